"""The README's table of roles is the access policy's own."""

from __future__ import annotations

from core.access import role_matrix
from core.settings import PROJECT_ROOT


def test_the_readme_role_matrix_matches_the_policy() -> None:
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("<!-- role-matrix:start -->\n") + len("<!-- role-matrix:start -->\n")
    end = readme.index("\n<!-- role-matrix:end -->")
    assert readme[start:end] == role_matrix(), (
        "README.md's role matrix is out of date: paste the output of "
        '`python -c "from core.access import role_matrix; print(role_matrix())"`'
    )
