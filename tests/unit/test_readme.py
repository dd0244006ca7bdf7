"""The README's configuration table names every setting."""

from pathlib import Path

from pspx.settings import Settings

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_setting_is_in_the_readme_table() -> None:
    text = README.read_text(encoding="utf-8")
    missing = [name for name in Settings.model_fields if f"`PSPX_{name.upper()}`" not in text]
    assert missing == []
