"""Tests for gan/registry.py: the one generic registry behind every "choose one by name"."""

import pytest

from gan import errors
from gan.registry import Registry


def fruits() -> Registry[int]:
  registry = Registry[int]("fruit")
  registry.register("banana", 1)
  registry.register("apple", 2)
  registry.register("cherry", 3)
  return registry


def test_register_returns_the_item_and_get_finds_it():
  registry = Registry[list]("thing")
  item = [1, 2]
  assert registry.register("pair", item) is item
  assert registry.get("pair") is item
  assert registry["pair"] is item


def test_a_name_is_registered_once():
  registry = fruits()
  with pytest.raises(ValueError, match=r"^Fruit 'apple' is already registered\.$"):
    registry.register("apple", 20)
  assert registry.get("apple") == 2  # the first registration stands
  two_words = Registry[int]("model family", "model families")
  two_words.register("dcgan", 1)
  with pytest.raises(ValueError, match=r"^Model family 'dcgan' is already registered\.$"):
    two_words.register("dcgan", 2)


def test_unknown_name_suggests_the_closest_and_lists_all():
  with pytest.raises(errors.UnknownNameError) as err:
    fruits().get("aple")
  assert str(err.value) == ("Unknown fruit 'aple' (did you mean 'apple'?); registered: banana, "
                            "apple, cherry.")
  with pytest.raises(errors.UnknownNameError) as err:
    fruits()["chery"]
  assert str(err.value) == ("Unknown fruit 'chery' (did you mean 'cherry'?); registered: banana, "
                            "apple, cherry.")


def test_unknown_name_without_a_close_one_only_lists():
  with pytest.raises(errors.UnknownNameError) as err:
    fruits().get("zucchini")
  assert str(err.value) == "Unknown fruit 'zucchini'; registered: banana, apple, cherry."
  with pytest.raises(errors.UnknownNameError) as err:
    Registry[int]("model family", "model families").get("dcgan")
  assert str(err.value) == "Unknown model family 'dcgan'; no model families are registered."
  with pytest.raises(errors.UnknownNameError, match="Unknown fruit 3;"):
    fruits().get(3)


def test_unknown_name_error_is_a_config_error_and_a_value_error():
  assert issubclass(errors.UnknownNameError, errors.ConfigError)
  assert issubclass(errors.UnknownNameError, ValueError)
  with pytest.raises(ValueError):  # what callers caught before the registry existed
    fruits().get("kiwi")


def test_names_keep_registration_order():
  assert fruits().names() == ("banana", "apple", "cherry")
  assert Registry[int]("fruit").names() == ()


def test_reads_like_a_read_only_mapping():
  registry = fruits()
  assert "apple" in registry and "kiwi" not in registry
  assert [1] not in registry  # an unhashable name is simply not registered
  assert tuple(registry) == ("banana", "apple", "cherry")
  assert ", ".join(registry) == "banana, apple, cherry"
  assert len(registry) == 3 and len(Registry[int]("fruit")) == 0
  assert registry.items() == (("banana", 1), ("apple", 2), ("cherry", 3))
  assert {name: registry[name] for name in registry} == dict(registry.items())
  with pytest.raises(TypeError):
    registry["kiwi"] = 4  # pylint: disable=unsupported-assignment-operation


def test_kind_and_plural():
  assert Registry[int]("dataset").plural == "datasets"
  assert Registry[int]("model family", "model families").plural == "model families"
  assert Registry[int]("loss").kind == "loss"


def test_a_copy_takes_registrations_of_its_own():
  registry = fruits()
  scratch = registry.copy()
  scratch.register("kiwi", 4)
  assert scratch.names() == ("banana", "apple", "cherry", "kiwi")
  assert registry.names() == ("banana", "apple", "cherry")
  assert (scratch.kind, scratch.plural) == (registry.kind, registry.plural)
