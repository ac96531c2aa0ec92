"""course.source: package code shown in notebooks, with the right file, lines and docstring."""

import ast
import importlib
import inspect
import sys
import textwrap
from pathlib import Path

import pytest
from IPython.core.formatters import DisplayFormatter
from IPython.display import Markdown

from course.atomic import atomic_path, atomic_write_text, remove_stale_temporaries
from course.source import show_source, source_text

ROOT = Path(__file__).resolve().parent.parent

# Edge cases the course's own code does not happen to contain, imported from a file outside
# the project so the header must fall back to the module name.
EDGE_CASES = '''\
class Edge:
    def shares_line(self): "Doc on the def line."; return 1

    def only_docstring(self):
        """Nothing but a docstring."""

    def unicode_docstring(self):
        """Köln, naïve: columns must count characters, not UTF-8 bytes.

Its last line sits left of the def, which defeats a dedent before parsing.
        """  # a comment that goes with it

        note = "not the docstring"
        return note

    def no_docstring(self):
        return "a string, but not the first statement"


def fenced():
    return "```python"
'''


@pytest.fixture
def edge(tmp_path, monkeypatch):
    (tmp_path / "source_edge_cases.py").write_text(EDGE_CASES, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "source_edge_cases", raising=False)
    return importlib.import_module("source_edge_cases")


@pytest.fixture(scope="module")
def epoch_checkpoint():
    checkpoint = pytest.importorskip("course.checkpoint")  # imports Keras: a few seconds
    return checkpoint.EpochCheckpoint


def header(markdown: Markdown) -> str:
    return markdown.data.splitlines()[0]


def test_function_source_round_trips():
    text = source_text(atomic_write_text)
    compile(text, "atomic_write_text", "exec")
    assert text.splitlines()[0].startswith("def atomic_write_text(path")
    assert text == "".join(inspect.getsourcelines(atomic_write_text)[0])


def test_dotted_name_of_a_method_gives_the_objects_source(epoch_checkpoint):
    by_name = source_text("course.checkpoint.EpochCheckpoint.on_epoch_end")
    assert by_name == source_text(epoch_checkpoint.on_epoch_end)
    # Dedented: a method shown alone starts at column 0 and compiles as it stands.
    assert by_name.startswith("def on_epoch_end(self, epoch, logs=None):")
    compile(by_name, "on_epoch_end", "exec")


def test_docstring_removal_removes_exactly_the_docstring():
    shown = source_text(atomic_write_text, include_docstring=False)
    assert atomic_write_text.__doc__ not in shown
    original = source_text(atomic_write_text).splitlines(keepends=True)
    assert shown == original[0] + original[2]  # the def line and the return line

    multi_line = source_text(remove_stale_temporaries, include_docstring=False)
    compile(multi_line, "remove_stale_temporaries", "exec")
    assert "A process killed outright" not in multi_line
    assert '"""' not in multi_line
    body = ast.parse(multi_line).body[0].body
    original_body = ast.parse(source_text(remove_stale_temporaries)).body[0].body
    assert ast.dump(ast.Module(body, [])) == ast.dump(ast.Module(original_body[1:], []))


def test_docstring_removal_of_a_class_keeps_its_methods(epoch_checkpoint):
    shown = source_text(epoch_checkpoint, include_docstring=False)
    tree = ast.parse(shown).body[0]
    assert ast.get_docstring(tree) is None
    assert ast.get_docstring(ast.parse(source_text(epoch_checkpoint)).body[0])
    assert [node.name for node in tree.body] == ["__init__", "on_train_begin", "on_epoch_end"]


def test_docstring_removal_edge_cases(edge):
    shares = source_text(edge.Edge.shares_line, include_docstring=False)
    assert shares == "def shares_line(self): ...; return 1\n"

    only = source_text(edge.Edge.only_docstring, include_docstring=False)
    assert only == "def only_docstring(self):\n    ...\n"  # an empty body would not compile

    unicode = source_text("source_edge_cases.Edge.unicode_docstring", include_docstring=False)
    assert unicode == 'def unicode_docstring(self):\n    note = "not the docstring"\n' \
        "    return note\n"

    untouched = source_text(edge.Edge.no_docstring)
    assert source_text(edge.Edge.no_docstring, include_docstring=False) == untouched
    for text in (shares, only, unicode):
        compile(text, "edge", "exec")


def test_lines_keeps_the_requested_lines_and_the_header_says_which():
    source_lines, first = inspect.getsourcelines(remove_stale_temporaries)
    assert source_text(remove_stale_temporaries, lines=(8, 10)) == textwrap.dedent(
        "".join(source_lines[7:10])
    )
    shown = show_source(remove_stale_temporaries, lines=(8, 10))
    assert header(shown) == (
        f"`course/atomic.py`, lines {first + 7}-{first + 9}: `remove_stale_temporaries`"
    )
    assert header(show_source(remove_stale_temporaries, lines=(1, 1))).startswith(
        f"`course/atomic.py`, line {first}: "
    )
    for bad in [(0, 2), (3, 2), (1, len(source_lines) + 1)]:
        with pytest.raises(ValueError, match="out of range"):
            source_text(remove_stale_temporaries, lines=bad)


def test_header_names_the_project_relative_file_and_lines(epoch_checkpoint, edge):
    source_lines, first = inspect.getsourcelines(atomic_write_text)
    assert header(show_source(atomic_write_text)) == (
        f"`course/atomic.py`, lines {first}-{first + len(source_lines) - 1}: `atomic_write_text`"
    )
    # A decorated function: the file and lines of the function, not of the decorator's wrapper.
    source_lines, first = inspect.getsourcelines(atomic_path)
    assert header(show_source(atomic_path)) == (
        f"`course/atomic.py`, lines {first}-{first + len(source_lines) - 1}: `atomic_path`"
    )
    method = epoch_checkpoint.on_epoch_end
    source_lines, first = inspect.getsourcelines(method)
    assert header(show_source(method)) == (
        f"`course/checkpoint.py`, lines {first}-{first + len(source_lines) - 1}:"
        " `EpochCheckpoint.on_epoch_end`"
    )
    assert header(show_source(edge.fenced)).startswith("`source_edge_cases`, lines ")


def test_a_name_that_cannot_be_imported_is_a_value_error():
    with pytest.raises(ValueError, match="'course.atomic' has no attribute .*'no_such_name'"):
        source_text("course.atomic.no_such_name")
    with pytest.raises(ValueError, match="no module 'no_such_package_xyz'.*package.module"):
        show_source("no_such_package_xyz.function")
    with pytest.raises(ValueError, match="not a dotted name"):
        source_text("course..atomic")


def test_a_builtin_has_no_source():
    with pytest.raises(TypeError, match="no Python source"):
        source_text(len)
    with pytest.raises(TypeError, match="no Python source"):
        show_source("builtins.len")


def test_markdown_output_and_its_plain_text():
    shown = show_source(atomic_write_text)
    code = source_text(atomic_write_text)
    assert isinstance(shown, Markdown)
    assert shown.data == f"{header(shown)}\n\n```python\n{code}```\n"
    bundle = DisplayFormatter().format(shown)[0]
    assert bundle["text/markdown"] == shown.data
    assert code in bundle["text/plain"]
    assert code in repr(shown)
    assert "Markdown object" not in bundle["text/plain"]


def test_code_with_backticks_gets_a_longer_fence(edge):
    text = show_source(edge.fenced).data
    assert "\n````python\n" in text
    assert text.endswith("\n````\n")


def test_the_package_does_not_import_this_module():
    tree = ast.parse((ROOT / "course" / "__init__.py").read_text(encoding="utf-8"))
    imported = [
        node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
    ] + [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
         for alias in node.names]
    assert not any("source" in name for name in imported)
