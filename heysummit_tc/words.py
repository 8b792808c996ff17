"""Words the pages, emails and commands share."""


def plural(count, word, many=None):
    """``3 deliveries``, ``1 delivery``: the count and the word it takes."""
    return f"{count} {word if count == 1 else (many or word + 's')}"
