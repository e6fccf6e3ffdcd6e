// Placeholder: the demo upstream is being written.
int main() { return 0; }
