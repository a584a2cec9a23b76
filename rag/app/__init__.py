"""What people use: the `rag` command line and the Gradio chat UI."""
