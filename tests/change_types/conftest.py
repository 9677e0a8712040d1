import pytest

from tests.changes.conftest import _fast_password_hashing, make_type, seeded_types  # noqa: F401


@pytest.fixture(autouse=True)
def _fast(_fast_password_hashing):  # noqa: F811
    yield
