"""Pure DataFrame functions: no I/O, no engine, no chat. What the notebooks call."""
