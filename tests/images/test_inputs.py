"""What names an image (its inputs), where the defaults come from (the host's apt sources), and what
agent.toml and host.toml accept for images. No builds here."""

from __future__ import annotations

from pathlib import Path

import pytest

from hyperhive.config import ConfigError, HostPolicy, load_agent_config, policy_violations
from hyperhive.images import ImageInputs, host_apt_default, plan_images

BASE = 'name = "alice"\nallowed_recipients = []\n'


def test_an_image_id_is_a_function_of_its_inputs_only() -> None:
    one = ImageInputs("bookworm", "http://deb.debian.org/debian", ("git", "ca-certificates"))
    assert one.image_id == ImageInputs("bookworm", "http://deb.debian.org/debian", ("ca-certificates", "git")).image_id
    assert one.image_id.startswith("base-")
    others = [ImageInputs("trixie", one.mirror, one.packages), ImageInputs(one.suite, "http://m/debian", one.packages),
              ImageInputs(one.suite, one.mirror, ("git",)), ImageInputs(one.suite, one.mirror, one.packages, base="x")]
    assert len({one.image_id, *(o.image_id for o in others)}) == 5
    assert others[-1].image_id.startswith("pkg-")


def test_a_package_set_image_names_its_base_and_holds_the_base_packages_too() -> None:
    policy = HostPolicy(image_suite="bookworm", image_mirror="http://deb.debian.org/debian")
    plan = plan_images(["librsvg2-bin"], policy, ("libc6",))
    assert plan.own is not None and plan.own.base == plan.base.image_id
    assert set(plan.base.packages) == {"ca-certificates", "git", "libc6"}
    assert set(plan.own.packages) == {*plan.base.packages, "librsvg2-bin"}
    assert plan_images([], policy, ("libc6",)).final == plan.base


def test_the_defaults_come_from_the_hosts_apt_sources(tmp_path: Path) -> None:
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d" / "debian.sources").write_text(
        "Types: deb\nURIs: http://deb.debian.org/debian-security\nSuites: bookworm-security\nComponents: main\n\n"
        "Types: deb deb-src\nURIs: http://mirror.example/debian\nSuites: bookworm bookworm-updates\n"
        "Components: main contrib\n")
    assert host_apt_default(tmp_path) == ("bookworm", "http://mirror.example/debian")
    (tmp_path / "sources.list.d" / "debian.sources").unlink()
    (tmp_path / "sources.list").write_text("# old style\ndeb [arch=amd64] http://ftp.example/debian trixie main\n")
    assert host_apt_default(tmp_path) == ("trixie", "http://ftp.example/debian")


@pytest.mark.parametrize("bad", ["Librsvg2-bin", "a", "rip grep", "-x", "pkg;rm", "pkg=1.0"])
def test_packages_must_be_debian_package_names(bad: str) -> None:
    with pytest.raises(ConfigError, match="packages"):
        load_agent_config(BASE + f'packages = ["{bad}"]\n')


def test_bwrap_builds_images_and_the_process_runtime_refuses_packages() -> None:
    cfg = load_agent_config(BASE + 'packages = ["librsvg2-bin", "g++", "python3.11"]\n')
    assert policy_violations(cfg, HostPolicy(), runtime="bwrap") == []
    refused = policy_violations(cfg, HostPolicy(), runtime="process")
    assert refused == ["packages: the 'process' runtime builds no images"]
