// holdgate: entry point. Subcommands are dispatched in cli/.
#include "cli/cli.h"

int main(int argc, char** argv) { return holdgate::cli::Main(argc, argv); }
