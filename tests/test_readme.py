"""The README's code runs as pasted: every ```python block and every command of every ```bash
block, in the order of the page, in one fresh working folder (as a reader following the README
top to bottom would: a later block may use a run an earlier one wrote). A block is left out only
under a line `<!-- not run by tests/test_readme.py: REASON -->`, and the reason must be given.
Bash blocks that are run may hold only `explore ...` commands."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
SKIP_LINE = "not run by tests/test_readme.py:"
BLOCK = re.compile(
    r"(?:<!--\s*(?P<skip>[^\n]*?)\s*-->\s*\n)?^```(?P<language>\w*)\n(?P<code>.*?)^```",
    re.MULTILINE | re.DOTALL,
)

pytestmark = [pytest.mark.slow, pytest.mark.datasets("salinas_a", "samson", "mnist_test")]


@dataclass(frozen=True)
class Block:
    line: int
    language: str
    code: str
    skip_reason: str | None

    @property
    def name(self) -> str:
        return f"{self.language}-line{self.line}"


def readme_blocks() -> list[Block]:
    text = README.read_text(encoding="utf-8")
    blocks = []
    for match in BLOCK.finditer(text):
        comment = match.group("skip") or ""
        reason = comment.split(SKIP_LINE, 1)[1].strip() if SKIP_LINE in comment else None
        line = text.count("\n", 0, match.start("code"))
        blocks.append(Block(line, match.group("language"), match.group("code"), reason))
    return blocks


def bash_commands(code: str) -> list[list[str]]:
    """The commands of a bash block: continuation lines joined, comments dropped."""
    joined = code.replace("\\\n", " ")
    return [shlex.split(line, comments=True) for line in joined.splitlines() if line.strip()]


BLOCKS = readme_blocks()
RUN = [block for block in BLOCKS if block.skip_reason is None]


def test_the_readme_has_blocks_and_every_left_out_one_says_why() -> None:
    assert len(RUN) >= 5
    for block in BLOCKS:
        assert block.language in ("python", "bash"), block
        if block.skip_reason is not None:
            assert len(block.skip_reason) > 10, f"line {block.line}: say why it is not run"
        elif block.language == "bash":
            for command in bash_commands(block.code):
                assert command[0] == "explore", (
                    f"README line {block.line}: {' '.join(command)!r} is not an `explore` "
                    "command: mark the block as not run, with the reason"
                )


@pytest.fixture(scope="module")
def reader_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder a reader works in, shared by the blocks in page order."""
    return tmp_path_factory.mktemp("reader")


@pytest.mark.parametrize("block", RUN, ids=lambda block: block.name)
def test_readme_block_runs_as_pasted(block: Block, reader_folder: Path) -> None:
    if block.language == "python":
        commands = [[sys.executable, "-c", block.code]]
    else:
        commands = [
            [sys.executable, "-m", "explore", *argv[1:]] for argv in bash_commands(block.code)
        ]
    for command in commands:
        result = subprocess.run(command, cwd=reader_folder, capture_output=True, text=True)
        shown = " ".join(command[2:]) if block.language == "bash" else "the block"
        assert result.returncode == 0, (
            f"README line {block.line}: {shown} exited {result.returncode}\n"
            f"{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
        )
