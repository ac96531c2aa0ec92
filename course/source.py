"""Show a package function's source in a notebook, so the code sits beside the math uncopied.

``show_source(vae_faces.model.kl_divergence)`` (or the string ``"vae_faces.model.kl_divergence"``)
returns a Markdown fenced ``python`` block headed by the file and line numbers it came from. The
package stays the single copy of the code: a notebook that shows it can never drift from it.
Markdown rather than HTML because GitHub's static notebook view and nbconvert both highlight
fenced code blocks, while they strip or mangle inline styles.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
import textwrap
from pathlib import Path

from IPython.display import Markdown

PROJECT_ROOT = Path(__file__).resolve().parent.parent
_EXPECTED_FORM = '"package.module.name" or "package.module.Class.method"'


class SourceCode(Markdown):
    """Markdown whose plain-text form is the code itself, not ``<... Markdown object>``.

    Plain text is what a terminal, ``print(repr(...))`` and text-only notebook viewers show.
    """

    def __init__(self, markdown: str, header: str, code: str):
        super().__init__(markdown)
        self.header = header
        self.code = code

    def __repr__(self) -> str:
        # A comment line keeps the plain-text form valid Python, ready to paste.
        return f"# {self.header.replace('`', '')}\n{self.code}"

    def _repr_pretty_(self, printer, cycle) -> None:
        printer.text(repr(self))


def resolve(name: str):
    """Import ``"package.module.Class.method"``: the longest importable module prefix, then
    attributes. Raises ValueError naming the part that failed."""
    parts = name.split(".")
    if not name or not all(part.isidentifier() for part in parts):
        raise ValueError(f"{name!r} is not a dotted name; expected {_EXPECTED_FORM}")
    for cut in range(len(parts), 0, -1):
        module_name = ".".join(parts[:cut])
        try:
            obj = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            # Only "this prefix does not exist" means try a shorter one; a module that exists
            # but fails on a missing dependency of its own must report that dependency.
            if error.name is None or not module_name.startswith(error.name):
                raise
            continue
        break
    else:
        raise ValueError(
            f"cannot import {name!r}: no module {parts[0]!r}; expected {_EXPECTED_FORM}"
        )
    for index in range(cut, len(parts)):
        try:
            obj = getattr(obj, parts[index])
        except AttributeError:
            owner = ".".join(parts[:index])
            raise ValueError(
                f"cannot import {name!r}: {owner!r} has no attribute or submodule"
                f" {parts[index]!r};"
                f" expected {_EXPECTED_FORM}"
            ) from None
    return obj


def _unwrap(obj):
    """The object whose source to show: a string is imported, a property shows its getter."""
    if isinstance(obj, str):
        obj = resolve(obj)
    if isinstance(obj, property) and obj.fget is not None:
        obj = obj.fget
    return obj


def _docstring_span(lines: list[str], is_module: bool) -> tuple[int, int, int, int, bool] | None:
    """Where the shown object's docstring is in its (not yet dedented) source lines.

    Returns (first line, last line, start column, end column, whether it is the only statement),
    lines 0-based and columns in characters, or None when there is no docstring.
    """
    source = "".join(lines)
    # A method's source is indented; as the body of an ``if`` it parses as it stands, so the
    # columns stay those of the lines we edit (dedent first would break on a multi-line string
    # whose continuation lines sit further left than the ``def``).
    offset = 0
    if source[:1].isspace():
        source, offset = "if True:\n" + source, 1
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None  # e.g. a lambda cut out of a longer expression; lambdas have no docstring
    if offset:
        tree = tree.body[0]
    definitions = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef
    if is_module:
        body = tree.body
    elif tree.body and isinstance(tree.body[0], definitions):
        body = tree.body[0].body
    else:
        return None
    if not body:
        return None
    first = body[0]
    if not (
        isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
    ):
        return None
    start, end = first.lineno - 1 - offset, first.end_lineno - 1 - offset
    # ast columns count UTF-8 bytes; the lines we cut are str.
    start_col = len(lines[start].encode()[: first.col_offset].decode())
    end_col = len(lines[end].encode()[: first.end_col_offset].decode())
    return start, end, start_col, end_col, len(body) == 1


def _without_docstring(lines: list[str], is_module: bool) -> list[str | None]:
    """``lines`` with the docstring's lines set to None (so line numbers stay put)."""
    span = _docstring_span(lines, is_module)
    if span is None:
        return list(lines)
    start, end, start_col, end_col, alone = span
    kept: list[str | None] = list(lines)
    before, after = lines[start][:start_col], lines[end][end_col:]
    if before.strip() or (after.strip() and not after.strip().startswith("#")):
        # Shares a line with code (``def f(): "doc"; return 1``): ``...`` keeps it valid.
        kept[start] = before + "..." + after
        kept[start + 1 : end + 1] = [None] * (end - start)
        return kept
    # An empty body would not compile, so an only-a-docstring body becomes ``...``.
    kept[start] = before + "...\n" if alone else None
    kept[start + 1 : end + 1] = [None] * (end - start)
    # The blank lines that separated the docstring from the code would now open the body.
    following = end + 1
    while following < len(lines) and not lines[following].strip():
        kept[following] = None
        following += 1
    return kept


def _source(obj, lines: tuple[int, int] | None, include_docstring: bool) -> tuple[str, int, int]:
    """The dedented code and the file line numbers of its first and last line."""
    try:
        source_lines, first = inspect.getsourcelines(obj)
    except (TypeError, OSError) as error:
        raise TypeError(
            f"no Python source can be retrieved for {obj!r} (a builtin, a C extension, or"
            f" defined where no file is kept): {error}"
        ) from None
    first = max(first, 1)  # a module's source "starts" at line 0
    kept: list[str | None] = list(source_lines)
    if not include_docstring:
        kept = _without_docstring(source_lines, inspect.ismodule(obj))
    if lines is not None:
        a, b = lines
        if not 1 <= a <= b <= len(source_lines):
            raise ValueError(
                f"lines={lines!r} is out of range: {_name(obj)} has lines 1-{len(source_lines)}"
                " (1-based, inclusive, counted from its first line)"
            )
        kept = kept[a - 1 : b]
        first, last = first + a - 1, first + b - 1
    else:
        last = first + len(source_lines) - 1
    text = textwrap.dedent("".join(line for line in kept if line is not None))
    return text.rstrip("\n") + "\n", first, last


def _name(obj) -> str:
    return getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None) or repr(obj)


def _location(obj) -> str:
    """The file relative to the project root, or the module name for code outside it."""
    # A decorator's wrapper lives in the decorator's file; getsourcelines unwraps, so must we.
    if callable(obj) and not isinstance(obj, type):
        obj = inspect.unwrap(obj)
    try:
        path = Path(inspect.getsourcefile(obj) or "").resolve()
        relative = path.relative_to(PROJECT_ROOT)
    except (TypeError, ValueError):
        relative = None
    # An installed package inside the project's virtual environment is not project code.
    if relative is None or "site-packages" in relative.parts:
        module = inspect.getmodule(obj)
        return module.__name__ if module is not None else "?"
    return relative.as_posix()


def source_text(
    obj, *, lines: tuple[int, int] | None = None, include_docstring: bool = True
) -> str:
    """The dedented source of ``obj`` (function, class, method, or dotted name string).

    ``lines=(a, b)`` keeps lines a..b, 1-based and inclusive, counted from the object's first
    line (decorators included). ``include_docstring=False`` drops the object's own docstring.
    Raises ValueError for a name that cannot be imported or lines out of range, TypeError
    for an object without Python source.
    """
    return _source(_unwrap(obj), lines, include_docstring)[0]


def show_source(
    obj, *, lines: tuple[int, int] | None = None, include_docstring: bool = True
) -> SourceCode:
    """``source_text`` as a highlighted Markdown code block headed by file and line numbers.

    For example "`vae_faces/model.py`, lines 12-20: `kl_divergence`". Arguments and errors
    as in ``source_text``.
    """
    obj = _unwrap(obj)
    code, first, last = _source(obj, lines, include_docstring)
    span = f"line {first}" if first == last else f"lines {first}-{last}"
    header = f"`{_location(obj)}`, {span}: `{_name(obj)}`"
    # A fence longer than any backtick run inside the code cannot be closed by the code.
    fence = "`" * max(3, 1 + max((len(run) for run in re.findall(r"`+", code)), default=0))
    return SourceCode(f"{header}\n\n{fence}python\n{code}{fence}\n", header, code)
