"""The secret masker: which values are secret, and masking values before encoding."""

from __future__ import annotations

import json

from maverick_core.engine.dsl.model import InputSpec, Workflow
from maverick_core.engine.secrets import (
    MASK,
    MIN_SECRET_CHARS,
    SecretMasker,
    secret_texts,
    shorten_value,
    unmasked_secret_inputs,
)


def test_every_key_and_scalar_inside_an_object_secret_is_secret() -> None:
    texts = secret_texts({"user": "robot", "tokens": ["ghp_abcdef", 123456], "port": 8443.5})
    assert texts == {"user", "robot", "tokens", "ghp_abcdef", "123456", "port", "8443.5"}


def test_values_shorter_than_the_minimum_are_not_secret_text() -> None:
    assert MIN_SECRET_CHARS == 4
    assert secret_texts(["abc", 17, True, None, 1.5, "abcd"]) == {"abcd"}


def test_an_integral_float_is_masked_in_both_text_forms() -> None:
    assert secret_texts(123456.0) == {"123456.0", "123456"}


def test_masking_covers_keys_and_nested_values() -> None:
    masker = SecretMasker(["hunter22"])
    value = {"hunter22": ["say hunter22!", {"k": "xhunter22x"}], "n": 5}
    assert masker.mask(value) == {MASK: [f"say {MASK}!", {"k": f"x{MASK}x"}], "n": 5}


def test_a_number_equal_to_a_secret_number_is_masked_but_others_are_kept() -> None:
    masker = SecretMasker([987654])
    assert masker.mask({"pin": 987654, "time": 1796135726.49, "ok": True}) == {
        "pin": MASK,
        "time": 1796135726.49,
        "ok": True,
    }


def test_masked_values_encode_to_json_without_any_escaped_form_of_the_secret() -> None:
    secret = 'sé"c\\ret\u2028'
    masker = SecretMasker([secret])
    for ensure_ascii in (True, False):
        line = json.dumps(masker.mask({"error": f"boom: {secret}"}), ensure_ascii=ensure_ascii)
        assert json.loads(line) == {"error": f"boom: {MASK}"}
        assert json.dumps(secret, ensure_ascii=ensure_ascii)[1:-1] not in line


def test_text_masking_also_replaces_escaped_forms_already_in_a_message() -> None:
    secret = 'q"uo\\te'
    masker = SecretMasker([secret])
    assert masker.mask_text(f"got {secret!r} and {json.dumps(secret)}") == (
        f"got '{MASK}' and \"{MASK}\""
    )


def test_a_secret_containing_another_is_masked_whole() -> None:
    masker = SecretMasker(["abcd", "xxabcdxx"])
    assert masker.mask_text("1 xxabcdxx 2 abcd") == f"1 {MASK} 2 {MASK}"


def test_a_long_secret_is_masked_before_an_error_message_cuts_it() -> None:
    secret = "s3cr3t-" * 20
    live = SecretMasker([secret])  # a live run's masker, as while a run executes
    shown = shorten_value({"token": secret}, limit=30)
    assert secret[:8] not in shown
    assert MASK in shown
    del live


def test_a_masker_without_secrets_returns_values_untouched() -> None:
    value = {"a": ["b"]}
    assert SecretMasker().mask(value) is value


def test_secret_inputs_too_short_to_be_masked_are_named() -> None:
    workflow = Workflow(
        version="1.0",
        name="w",
        inputs={
            "pin": InputSpec(type="integer", secret=True),
            "token": InputSpec(secret=True),
            "creds": InputSpec(type="object", secret=True),
            "plain": InputSpec(),
        },
        steps=[],
    )
    inputs = {"pin": 17, "token": "long-enough", "creds": {"id": "ab1"}, "plain": "x"}
    assert unmasked_secret_inputs(workflow, inputs) == ["pin", "creds"]
