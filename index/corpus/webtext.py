"""Find a web page's main text and title, leaving out its menus: for fetched and local pages."""

from __future__ import annotations

from index.corpus.complaints import held_back

# trafilatura drops these from its own extraction, but on a short page it falls back to
# extractors that keep them, and the menu then becomes the first paragraph.
NAVIGATION = "//nav|//menu|//*[@role='navigation']"


def main_text(html: str) -> tuple[str, str | None]:
    """Return a page's main text, one paragraph per block, and its title; "" if none is found."""
    import trafilatura  # imported lazily: it is slow to import and only HTML needs it

    # Its messages ("empty HTML tree", "discarding data") are about its own fallbacks; what
    # matters, a page without text, the caller reports naming the page.
    with held_back("trafilatura"):
        tree = trafilatura.load_html(html)
        if tree is None:
            return "", None
        for element in tree.xpath(NAVIGATION):
            element.drop_tree()
        # extract works on a copy of the tree; extract_metadata may not, so it comes second.
        extracted = trafilatura.extract(tree, include_comments=False, favor_recall=True)
        metadata = trafilatura.extract_metadata(tree)
    lines = [line.strip() for line in (extracted or "").splitlines() if line.strip()]
    title = metadata.title if metadata is not None and metadata.title else None
    return "\n\n".join(lines), title
