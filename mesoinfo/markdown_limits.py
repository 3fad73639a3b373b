"""What Markdown text the render pipeline accepts: linear-time checks run before Python-Markdown sees a text.

Python-Markdown takes time that grows with the square of some inputs (each unclosed "[" or "<tag" makes it
scan the rest of its paragraph: 8,000 "[" took 18 s) and recurses once per level of nesting (a list nested
300 levels deep overflows Python's stack). Texts that would do either are refused with a message an editor
can act on; the editor keeps the text (the admin form comes back with it and the error), and the public pages
show any such text already stored as plain paragraphs instead of rendering it.
"""

import re

MAX_CHARS = 100_000  # about 15,000 words: far beyond any section; the longest seed text is 2,300 characters
MAX_LINES = 2_000  # some block rules re-read the rest of a block once per line (25,000 headings took 20 s)
MAX_NESTING = 12  # levels of lists and quotes inside each other
# Characters Python-Markdown may scan past to match an opening "[", "(", "<tag" or "<http" with its closing
# partner, summed over the text. Ordinary text needs a few thousand; this much renders in well under a second.
MAX_SCAN = 400_000
# Each piece of inline markup (*, _, `, \, !, &, [, <) found in a paragraph costs a pass over it: markup
# characters × paragraph length, summed over the paragraphs, at most this (about 0.2 s of work).
MAX_INLINE_WORK = 500_000_000

_PARAGRAPHS = re.compile(r"\n[ \t]*\n")
_OPENERS = re.compile(r"\[|\]|\(|\)|<[A-Za-z/!?]|>")
_QUOTE_PREFIX = re.compile(r"[ \t]*(?:>[ \t]?)+")
_LIST_MARKERS = re.compile(r"(?:[ \t]*(?:[-*+]|\d+[.)])[ \t]+)+")
_INLINE_MARKUP = re.compile(r"[*_`\\!&\[<]")


class MarkdownTooComplex(ValueError):
    """The text cannot be rendered safely; the message says what to change."""


def check(text):
    """Raise MarkdownTooComplex if rendering `text` could take too long or overflow the stack."""
    text = text or ""
    if len(text) > MAX_CHARS:
        raise MarkdownTooComplex(
            f"This text is too long ({len(text):,} characters; at most {MAX_CHARS:,}). Split it into sections."
        )
    lines = text.splitlines()
    if len(lines) > MAX_LINES:
        raise MarkdownTooComplex(
            f"This text has too many lines ({len(lines):,}; at most {MAX_LINES:,}). Split it into sections."
        )
    depth = max((_nesting(line) for line in lines), default=0)
    if depth > MAX_NESTING:
        raise MarkdownTooComplex(
            f"Lists or quotes are nested {depth} levels deep; at most {MAX_NESTING} can be shown. "
            "Flatten the indentation or the '>' marks."
        )
    paragraphs = _PARAGRAPHS.split(text)
    if sum(len(_INLINE_MARKUP.findall(paragraph)) * len(paragraph) for paragraph in paragraphs) > MAX_INLINE_WORK:
        raise MarkdownTooComplex(
            "This text has too much formatting (* _ ` \\ [ < …) in too long paragraphs to be shown. "
            "Break it into shorter paragraphs, or use fewer of those marks."
        )
    if sum(_scan_cost(paragraph) for paragraph in paragraphs) > MAX_SCAN:
        raise MarkdownTooComplex(
            "This text has too many unmatched brackets ( [ ] ( ) < > ) to be shown. Close each '[' with ']' and "
            "each '(' with ')', or write a bracket that is meant as text with a backslash before it: \\["
        )


def _nesting(line):
    """Levels this line is nested: quote marks, indentation (4 columns a level) and list markers in a row
    ("- - - x" is three lists, one inside the other)."""
    quotes = _QUOTE_PREFIX.match(line)
    quote_depth = quotes.group(0).count(">") if quotes else 0
    rest = (line[quotes.end() :] if quotes else line).expandtabs(4)
    indent = len(rest) - len(rest.lstrip(" "))
    markers = _LIST_MARKERS.match(rest)
    list_depth = len(re.findall(r"(?:[-*+]|\d+[.)])[ \t]+", markers.group(0))) if markers else 0
    return quote_depth + indent // 4 + list_depth


def _scan_cost(paragraph):
    """How far Python-Markdown may scan for the closing partner of every opener in this paragraph, in characters:
    to the matching bracket, or to the paragraph's end for one never closed."""
    cost, open_square, open_round, open_angle = 0, [], [], []
    end = len(paragraph)
    for match in _OPENERS.finditer(paragraph):
        char, position = match.group(0)[0], match.start()
        if char == "[":
            open_square.append(position)
        elif char == "(":
            open_round.append(position)
        elif char == "<":
            open_angle.append(position)
        else:
            stack = {"]": open_square, ")": open_round, ">": open_angle}[char]
            if char == ">":  # a ">" closes every "<" before it: tag patterns stop at the first one
                cost += sum(position - start for start in stack)
                stack.clear()
            elif stack:
                cost += position - stack.pop()
    return cost + sum(end - start for start in (*open_square, *open_round, *open_angle))
