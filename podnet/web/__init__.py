"""The live lab in a browser: the figure as data, the feed of changes, the server and its page."""
