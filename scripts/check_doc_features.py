"""Check that every feature-gated item is labelled with its feature on the docs page.

Usage: check_doc_features.py DEFAULT_DOCS ALL_FEATURES_DOCS

Both arguments are rustdoc output folders (`target/doc`) of this crate, built with
`--cfg docsrs` on nightly: the first with default features, the second with all of them.
What the second has and the first lacks exists only with some feature, so it must carry
rustdoc's "Available on crate feature … only" label:
- an item page (struct, enum, function, constant …) that only the full build has, right at
  the top of the page (before its first impl or member section);
- a member (method, associated item, variant, field, trait impl) that only the full build
  shows on a page both builds have, inside that member's own section.
Exits 1 with one line per unlabelled item.
"""

import pathlib
import re
import sys

CRATE = "webhook_kit"
LABEL = 'class="stab portability"'
# The anchors rustdoc gives members and impl blocks on an item's page.
MEMBER = re.compile(
    r'id="((?:method|tymethod|associatedconstant|associatedtype|variant|structfield|impl)'
    r'[.-][^"]+)"'
)
# Where an item page's own description ends and its members begin.
FIRST_SECTION = re.compile(r'<h2 id="')
# Blanket impls (`impl<T> Instrument for T`) come from whichever crates a feature pulls
# in; they are not the crate's items.
BLANKET = 'id="blanket-implementations"'


def item_pages(docs: pathlib.Path) -> dict[str, str]:
    """Every item page of the crate (redirect stubs left out), by path, with its HTML."""
    pages = {}
    for path in (docs / CRATE).rglob("*.html"):
        text = path.read_text(encoding="utf-8")
        if 'http-equiv="refresh"' in text or path.name in ("all.html", "index.html"):
            continue
        pages[str(path.relative_to(docs / CRATE))] = text
    return pages


def member_sections(html: str) -> dict[tuple[str, str], str]:
    """Each member with the HTML from its anchor to the next one, blanket impls left out.

    A member is keyed by the impl block it stands in and its anchor without rustdoc's
    `-N` suffix, which numbers same-named methods by position and so shifts when a
    feature adds an impl before them.
    """
    html = html.split(BLANKET, maxsplit=1)[0]
    matches = list(MEMBER.finditer(html))
    sections = {}
    impl = ""
    for i, match in enumerate(matches):
        anchor = match.group(1)
        end = matches[i + 1].start() if i + 1 < len(matches) else len(html)
        if anchor.startswith("impl-"):
            impl = anchor
            key = (anchor, "")
        else:
            key = (impl, re.sub(r"-\d+$", "", anchor))
        sections[key] = html[match.start() : end]
    return sections


def unlabelled(default_docs: pathlib.Path, full_docs: pathlib.Path) -> list[str]:
    default_pages = item_pages(default_docs)
    full_pages = item_pages(full_docs)
    found = []
    for path, html in sorted(full_pages.items()):
        if path not in default_pages:
            top = FIRST_SECTION.split(html, maxsplit=1)[0]
            if LABEL not in top:
                found.append(f"{path}: only with a feature, but the page does not say which")
            continue
        default_members = member_sections(default_pages[path])
        # A member of a labelled impl block that only the full build has is covered by
        # the impl's label.
        in_labelled_impl = False
        for (impl, member), section in member_sections(html).items():
            new = (impl, member) not in default_members
            labelled = LABEL in section
            anchor = member or impl
            if not member:
                in_labelled_impl = new and labelled
            elif in_labelled_impl:
                continue
            if new and not labelled:
                found.append(f"{path}#{anchor}: only with a feature, but does not say which")
    if not full_pages:
        found.append(f"no item pages under {full_docs / CRATE}")
    return found


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    problems = unlabelled(pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]))
    for problem in problems:
        print(f"check_doc_features: {problem}", file=sys.stderr)
    sys.exit(1 if problems else 0)
