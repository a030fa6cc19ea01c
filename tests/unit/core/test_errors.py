from __future__ import annotations

import core.errors as errors


def _all_errors() -> list[type[errors.BgRemoverError]]:
    return [obj for obj in vars(errors).values() if isinstance(obj, type) and issubclass(obj, errors.BgRemoverError)]


def test_every_error_has_one_root_a_status_and_a_documented_code() -> None:
    tree = errors.__doc__ or ""
    for cls in _all_errors():
        assert cls.__doc__, cls
        assert 400 <= cls.status <= 599, cls
        assert cls.code.replace("_", "").isalpha(), cls
        assert cls.__name__ in tree, f"{cls.__name__} missing from the tree in core/errors.py"


def test_codes_are_unique() -> None:
    codes = [cls.code for cls in _all_errors()]
    assert len(codes) == len(set(codes))
