"""The generated documents in docs/ match the code that generates them."""

from stack.docs import generated


def test_docs_are_regenerated_after_every_contract_change() -> None:
    stale = [
        path.name
        for path, text in generated().items()
        if not path.exists() or path.read_text(encoding="utf-8") != text
    ]
    assert stale == [], f"run `pspx docs`: {stale} differ from the code"
