"""What a register may be (DOMAIN.md "Words": role, count method, default float),
checked by Register.full_clean(), which the admin, the API and the back-office all use."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from django.core.exceptions import ValidationError

from cashdrawer.models import Register


def _errors(register: Register) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as refused:
        register.full_clean()
    return refused.value.message_dict


def _new(location, **fields) -> Register:
    fields.setdefault("name", "New till")
    fields.setdefault("code", "new-till")
    return Register(location=location, **fields)


def test_a_valid_sub_register_passes(location, main_register):
    _new(location, role="sub", main_register=main_register).full_clean()


def test_a_sub_register_needs_a_main_register(location):
    assert "main_register" in _errors(_new(location, role="sub"))


def test_a_sub_registers_main_must_be_at_the_same_location(other_location, main_register):
    errors = _errors(_new(other_location, role="sub", main_register=main_register))
    assert "same location" in " ".join(errors["main_register"])


def test_a_sub_registers_main_must_be_a_main_register(location, register, sub_a):
    assert "is not a main register" in " ".join(
        _errors(_new(location, role="sub", main_register=register))["main_register"]
    )
    # Nor can a sub hang under another sub.
    assert "main_register" in _errors(_new(location, role="sub", main_register=sub_a))


def test_a_sub_register_has_no_default_float(location, main_register):
    errors = _errors(
        _new(location, role="sub", main_register=main_register, default_float=D("50.00"))
    )
    assert list(errors) == ["default_float"]


def test_a_main_register_counts_by_denominations(location):
    errors = _errors(_new(location, role="main", count_method="total"))
    assert list(errors) == ["count_method"]


def test_a_standalone_register_has_no_main_register(location, main_register):
    for role in ("standalone", "main"):
        errors = _errors(_new(location, role=role, main_register=main_register))
        assert "main_register" in errors


def test_a_main_register_with_subs_cannot_change_role(main_register, sub_a):
    main_register.role = "standalone"
    assert "role" in _errors(main_register)


def test_a_main_register_without_subs_may_become_standalone(main_register):
    main_register.role = "standalone"
    main_register.full_clean()


def test_a_main_register_with_subs_cannot_move_to_another_location(
    main_register, sub_a, other_location
):
    # Found while writing this suite: only the sub's side was checked, so moving the main
    # left Sub A counted at a main register of another store.
    main_register.location = other_location
    assert "location" in _errors(main_register)


def test_a_default_float_has_the_currencys_decimals_and_is_not_negative(location, jpy_location):
    assert "default_float" in _errors(_new(jpy_location, default_float=D("1.50")))
    _new(jpy_location, default_float=D("1500")).full_clean()
    assert "default_float" in _errors(_new(location, default_float=D("-1.00")))
    assert "default_float" in _errors(_new(location, default_float=D("1.005")))
