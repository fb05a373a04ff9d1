"""Command-line tools: offline plan, benchmark, and the shared mock runtime."""
