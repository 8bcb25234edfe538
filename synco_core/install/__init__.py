"""The install side: planning an install, running it all or nothing, what it replaced, and receive + install."""
