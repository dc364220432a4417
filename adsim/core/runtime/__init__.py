"""What a process needs around the math: the device choice (the one place it lives), torchrun ranks,
Ctrl-C handling, quiet libraries, and memory measurement and footprint checks."""
