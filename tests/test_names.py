import pytest

from hyperhive.protocol.names import InvalidName, check_agent_name, is_agent_name


@pytest.mark.parametrize("name", ["a", "alice", "bob-2", "hm1nd", "abcdefghi", "x0-y"])
def test_valid_names(name: str) -> None:
    assert check_agent_name(name) == name


@pytest.mark.parametrize(
    "name",
    ["", "A", "1abc", "abcdefghij", "bob-", "..", "../etc", "a/b", "%2e%2e", "al ice", "al\x00", "operator",
     "all", "hive", "manager", "-a", "é", "a" * 300],
)
def test_invalid_names(name: str) -> None:
    with pytest.raises(InvalidName):
        check_agent_name(name)
    assert not is_agent_name(name)


def test_non_string_is_refused_with_its_type() -> None:
    with pytest.raises(InvalidName, match="not int"):
        check_agent_name(42)
