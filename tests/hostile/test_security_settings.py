"""Security settings issue 17 asks for."""

from __future__ import annotations

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError


def test_an_all_numeric_password_is_refused():
    with pytest.raises(ValidationError) as refused:
        validate_password("80417365920193")
    assert "password_entirely_numeric" in {error.code for error in refused.value.error_list}
