"""The proxied request, top to bottom: ``pipeline`` tells the story; ``routes`` parses paths, ``relay``
streams answers back and records usage, ``function_url`` translates Lambda events, ``app`` wires it up."""
