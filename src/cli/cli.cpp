#include "cli/cli.h"

namespace holdgate::cli {
int Main(int, char**) { return 0; }
}  // namespace holdgate::cli
