"""docs/reference/ is generated from the code: a flag, config key or report field added without
`make reference` fails here."""

from pathlib import Path

import pytest

from adsim.reference import GENERATED, field_comments, generate

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", sorted(GENERATED))
def test_the_committed_reference_matches_the_code(name):
    committed = ROOT / "docs" / "reference" / name
    assert committed.exists() and committed.read_text() == generate()[name], \
        f"docs/reference/{name} is out of date: run `make reference`"


def test_every_config_key_and_cli_option_has_a_meaning():
    text = generate()
    blank = [line for line in text["config.md"].splitlines() if line.startswith("| `") and line.endswith("|  |")]
    assert not blank, f"config keys without a comment in the code: {blank[:5]}"
    assert "`--out, -o`" in text["cli.md"] and "## `adsim validate exchange`" in text["cli.md"]


def test_field_comments_read_trailing_and_preceding_comments():
    from adsim.core.config_sections import WorldConfig
    comments = field_comments(WorldConfig)
    assert comments["seq_len"] == "longest behaviour sequence kept per user"
    assert comments["history_target_shown"].startswith("The past system")


def test_every_package_and_module_says_what_it_holds():
    rows = [line for line in generate()["modules.md"].splitlines() if line.startswith("| `")]
    blank = [row for row in rows if row.endswith("|  |")]
    assert len(rows) > 100 and not blank, blank[:5]
