"""Tokenizing and variable masking for the template miner.

A message is cut into *tokens* and the *separators* between them. Multi-character entities that
contain delimiters of their own (URLs, e-mails, UUIDs, IPs with ports, MACs, clock times, dates,
JSON fragments) are found first and kept as one token each; the rest of the text is split on
whitespace and on the structural delimiters ``= , : ; [ ] { } "`` (configurable). Each token is
then classified as *variable* or *constant* by general shape rules (no per-system regexes):

* ``true``/``false``/``null``/``None`` literals;
* numbers (``42``, ``-3.5``, ``1,024``, ``7%``), hex (``0x1f``, ``deadbeef42``), durations and sizes
  (``30000ms``, ``5s``, ``1.5GB``), and with ``digit_rule="any"`` every token that contains a digit
  (``blk_-1608999687919862906``, ``attempt_01_m_3``, ``node-D1``);
* the entities above;
* optionally the value of a ``key=value`` pair (unless it is a plain alphabetic word, which is left
  to the miner's per-position diversity rule) and single-word quoted values.

A comma-joined list of variables (``10.0.0.1,10.0.0.2``) is one token, a quantity with a unit
(``1.16 KB``, ``<1 sec``) is one entity, parentheses at word edges are separators, and an
all-variable parenthesized annotation (``(1.16 KB)``) is folded into the separator, so optional or
variable-length values do not change a statement's token count.

Separators are kept so a template can be printed the way the message looked
(``user=<*> took <*>``), but only the tokens take part in clustering.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

WILDCARD = "<*>"

# Entities that would otherwise be cut apart by the delimiters. Order = priority in the alternation.
_ENTITY_PATTERNS: list[str] = [
    # JSON object fragment with at least one "key": pair
    r"\{[^{}]*\"[^{}\"]*\"\s*:[^{}]*\}",
    # URL with a scheme
    r"\b[a-zA-Z][a-zA-Z0-9+.-]{1,15}://[^\s\"'<>]+",
    # e-mail
    r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[a-zA-Z]{2,}\b",
    # UUID
    r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b",
    # IPv4 (a port after ":" is a separate numeric token, like host:port)
    r"(?<![\w.])\d{1,3}(?:\.\d{1,3}){3}(?![\w.])",
    # IPv6 (full or compressed, at least 3 groups with a "::" or 8 groups)
    r"(?<![\w:])(?:[0-9a-fA-F]{1,4}:){7}[0-9a-fA-F]{1,4}(?![\w:])",
    r"(?<![\w:])(?:[0-9a-fA-F]{1,4}:){1,6}:(?:[0-9a-fA-F]{1,4}:){0,5}[0-9a-fA-F]{1,4}(?![\w:])",
    # MAC address / colon-separated hex id (4+ groups)
    r"(?<![\w:])[0-9a-fA-F]{2}(?::[0-9a-fA-F]{2}){3,}(?![\w:])",
    # ISO date, optional time
    r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?\b",
    # ctime / syslog / java.util.Date dates: [Tue ]Jul  5 13:52:21 [CEST] [2005]
    r"\b(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)\s+)?(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\s+\d{1,2}"
    r"(?:\s+\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?)(?:\s+[A-Z]{3,4})?(?:\s+\d{4})?\b",
    # A quantity written as number + space + unit ("1.16 KB", "<1 sec", "250 ms") is one value: the
    # unit belongs to the number, and a bound such as "<1 sec" must not differ in shape from "00:39".
    # General: sizes and durations are printed this way by every runtime; only unambiguous units.
    r"(?<![\w.])[<>~]?\d+(?:\.\d+)?\s?(?:[KMGTP]i?B|sec|secs|seconds|ms|msec|usec|ns)\b",
    # clock time 12:34 / 12:34:56 / 12:34:56.789
    r"(?<![\w:.])\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d+)?(?![\w:])",
]

_NUMBER = re.compile(r"[-+]?(?:\d+(?:[.,]\d+)*|\.\d+)(?:[eE][-+]?\d+)?%?")
_HEX = re.compile(r"(?:0[xX][0-9a-fA-F]+|[0-9a-fA-F]*\d[0-9a-fA-F]*)")
_UNIT = re.compile(
    r"[-+]?\d+(?:\.\d+)?(?:ns|us|µs|ms|s|sec|secs|m|min|mins|h|hr|hrs|d|"
    r"b|kb|mb|gb|tb|k|kib|mib|gib|bytes)",
    re.IGNORECASE,
)
_DIGIT = re.compile(r"\d")
_DIGITS_TO_ZERO = str.maketrans("123456789", "000000000")
# (token/separator boundaries, folded separators as pieces, variable flags) — see Masker.tokenize
_Shape = tuple[list[int], tuple[tuple[int, tuple[tuple[int, int], ...]], ...], tuple[bool, ...]]
_LITERALS = frozenset({"true", "false", "True", "False", "TRUE", "FALSE", "null", "NULL", "None", "nil"})


@dataclass(frozen=True)
class MaskingConfig:
    """The single, system-independent masking configuration."""

    # "any": a token containing any digit is a variable; "strict": only tokens that are entirely
    # numbers / hex / durations / sizes (plus the entities) are variables.
    digit_rule: str = "any"
    # Characters (besides whitespace) that split tokens.
    # Parentheses are deliberately not delimiters: ``LOCAL(0)``/``QQ(10018)`` stay one (variable) token,
    # which keeps the token count of a statement stable (measured: +0.02 mean GA).
    delimiters: str = '=,:;[]{}"'
    # Treat the token right after "key=" as a variable even without digits.
    mask_kv_values: bool = True
    # Treat a single-word value in quotes ('abc', "abc") as a variable.
    mask_quoted: bool = True
    # Messages are cut to this many characters before tokenizing (bounded work per line).
    max_chars: int = 4000


class Masker:
    """Turns a message into (tokens, separators, variable flags). Stateless apart from a token cache."""

    def __init__(self, config: MaskingConfig | None = None) -> None:
        self.config = config or MaskingConfig()
        delims = re.escape(self.config.delimiters)
        # A word does not start with "(" and (below) loses an unmatched trailing ")": an opening or
        # closing parenthesis at a word edge punctuates the sentence ("(1.16 KB)", "(Lifecycle Event)")
        # and goes into the separator, while a call-like token "LOCAL(0)" stays whole.
        word = rf"[^\s{delims}(][^\s{delims}]*"
        entity = "|".join(f"(?:{p})" for p in _ENTITY_PATTERNS)
        # group 1: entity, group 2: plain word
        self._token_re = re.compile(rf"({entity})|({word})")
        self._quoted_re = re.compile(r"(?<![\w])(['\"])([^'\"\s]{1,120})\1(?![\w])")
        self._var_cache: dict[str, bool] = {}
        self._shapes: dict[str, _Shape] = {}
        self.shape_cache_size = 32_768

    def is_variable(self, token: str) -> bool:
        """Shape rule for one plain token (entities are always variable)."""
        cached = self._var_cache.get(token)
        if cached is not None:
            return cached
        result = self._classify(token)
        if len(self._var_cache) > 100_000:
            self._var_cache.clear()
        self._var_cache[token] = result
        return result

    def _classify(self, token: str) -> bool:
        if token == WILDCARD or token in _LITERALS:
            return True
        if not _DIGIT.search(token):
            return False
        if self.config.digit_rule == "any":
            return True
        return bool(_NUMBER.fullmatch(token) or _HEX.fullmatch(token) or _UNIT.fullmatch(token))

    def tokenize(self, message: str) -> tuple[list[str], list[str], list[bool]]:
        """Return (tokens, separators, is_variable).

        ``separators`` has ``len(tokens) + 1`` entries: the text before the first token, between
        tokens, and after the last one, so ``sep[0] + tok[0] + sep[1] + ... + tok[-1] + sep[-1]``
        rebuilds the (truncated) message.

        With ``digit_rule="any"`` the result's *shape* (where tokens start and end, which are
        variables) depends only on where digits are, not on which digits: no rule here tells one
        ASCII digit from another. So the shape is cached under the message with every digit
        turned into ``0``; most log lines differ from an earlier one only in their numbers, and
        then tokenizing is a few slices instead of a regex scan.
        """
        text = message if len(message) <= self.config.max_chars else message[: self.config.max_chars]
        if self.config.digit_rule != "any":
            return self._materialize(text, self._shape(text))
        key = text.translate(_DIGITS_TO_ZERO)
        shape = self._shapes.get(key)
        if shape is None:
            shape = self._shape(text)
            if len(self._shapes) >= self.shape_cache_size:
                self._shapes.clear()
            self._shapes[key] = shape
        return self._materialize(text, shape)

    @staticmethod
    def _materialize(text: str, shape: _Shape) -> tuple[list[str], list[str], list[bool]]:
        bounds, folded, flags = shape
        # bounds = [sep0_start, tok0_start, tok0_end, tok1_start, ..., tokN_end, len]; separators
        # are the gaps between tokens, except the (rare) ones a parenthesized value was folded into.
        tokens = [text[bounds[i] : bounds[i + 1]] for i in range(1, len(bounds) - 1, 2)]
        seps = [text[bounds[i] : bounds[i + 1]] for i in range(0, len(bounds), 2)]
        for index, parts in folded:
            seps[index] = "".join(WILDCARD if a < 0 else text[a:b] for a, b in parts)
        return tokens, seps, list(flags)

    def _shape(self, text: str) -> _Shape:
        """Tokenize ``text`` into token boundaries, folded separators and variable flags."""
        starts: list[int] = []
        ends: list[int] = []
        flags: list[bool] = []
        quoted: set[int] = set()
        if self.config.mask_quoted and ("'" in text or '"' in text):
            quoted = {p for m in self._quoted_re.finditer(text) for p in (m.start(1), m.start(2))}
        kv = self.config.mask_kv_values
        pos = 0
        is_var = self.is_variable
        for m in self._token_re.finditer(text):
            start = m.start()
            tok = m.group()
            end = m.end()
            if tok[-1] == ")" and m.group(1) is None:
                while tok and tok[-1] == ")" and tok.count(")") > tok.count("("):
                    tok = tok[:-1]
                end = start + len(tok)
                if not tok:
                    continue
            if m.group(1) is not None:
                var = True
            else:
                var = (
                    is_var(tok)
                    # key=value: a value that is a plain word ("user=root") is left to the miner's
                    # per-position diversity rule (a small enumeration stays constant, a varying one
                    # becomes <*>); values with digits, dots, slashes... are identifiers/paths/hosts.
                    or (kv and text[pos:start].endswith("=") and len(starts) > 0 and not tok.isalpha())
                    or start in quoted
                )
            # A comma-separated list of variables without spaces ("10.0.0.1,10.0.0.2", "3,7,9") is
            # one value of variable length: joining it keeps the statement's token count independent
            # of the number of list items.
            if var and flags and flags[-1] and start - pos == 1 and text[pos] == ",":
                ends[-1] = end
                pos = end
                continue
            starts.append(start)
            ends.append(end)
            flags.append(var)
            pos = end
        # Separators as lists of (start, end) pieces, (-1, -1) standing for a folded-in wildcard.
        seps: list[list[tuple[int, int]]] = [[(0, starts[0] if starts else len(text))]]
        seps += [[(ends[i], starts[i + 1])] for i in range(len(starts) - 1)]
        if starts:
            seps.append([(ends[-1], len(text))])
        # A parenthesized value "(…)" that is a single variable (e.g. "1190 bytes (1.16 KB)") is an
        # optional annotation that loggers add only for some values; it is folded into the separator
        # so lines with and without it have the same tokens.
        if "(" in text:
            i = 0
            while i < len(starts):
                a, b = seps[i][-1]
                c, d = seps[i + 1][0]
                if flags[i] and b > a and text[b - 1] == "(" and d > c and text[c] == ")" and len(starts) > 1:
                    seps[i : i + 2] = [[*seps[i], (-1, -1), *seps[i + 1]]]
                    del starts[i]
                    del ends[i]
                    del flags[i]
                else:
                    i += 1
        bounds = [0]
        for start_end in zip(starts, ends, strict=True):
            bounds += start_end
        bounds.append(len(text))
        folded = tuple((i, tuple(parts)) for i, parts in enumerate(seps) if len(parts) > 1)
        return bounds, folded, tuple(flags)

    def mask(self, message: str) -> tuple[list[str], list[str], list[str]]:
        """Return (masked tokens, separators, original tokens): variables replaced by ``<*>``."""
        tokens, seps, flags = self.tokenize(message)
        masked = [WILDCARD if f else t for t, f in zip(tokens, flags, strict=True)]
        return masked, seps, tokens


def render(tokens: list[str], seps: list[str]) -> str:
    """Join tokens with their separators (leading/trailing whitespace stripped)."""
    parts: list[str] = [seps[0]]
    for tok, sep in zip(tokens, seps[1:], strict=False):
        parts.append(tok)
        parts.append(sep)
    return "".join(parts).strip()


def mask_text(message: str, config: MaskingConfig | None = None) -> str:
    """Convenience: the message with its variables replaced by ``<*>`` (no clustering)."""
    masker = Masker(config)
    masked, seps, _ = masker.mask(message)
    return render(masked, seps)
