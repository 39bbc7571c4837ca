"""Small real corpora written by tests (Markdown and text, English and Chinese)."""

from __future__ import annotations

from pathlib import Path

TOPICS = [
    ("apt", "APT installs packages from Debian archives. Use apt install NAME to add a package."),
    ("systemd", "systemd starts services at boot. Enable a unit with systemctl enable NAME."),
    ("ssh", "OpenSSH gives remote shells. Keys live in ~/.ssh and authorized_keys."),
    ("git", "Git tracks versions of files. Commit often and push to a remote."),
    ("python", "Python runs scripts. Create a virtual environment with python3 -m venv."),
    ("redis", "Redis keeps data in memory. It answers PING with PONG."),
]


def write_corpus(root: Path, copies: int = 1, paragraphs: int = 3) -> list[Path]:
    root.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(copies):
        for name, text in TOPICS:
            path = root / f"{name}-{i}.md"
            body = "\n\n".join(
                f"{text} Section {p} of copy {i} adds detail number {p * 7 + i}."
                for p in range(paragraphs)
            )
            path.write_text(f"# {name} guide {i}\n\n{body}\n", encoding="utf-8")
            paths.append(path)
    zh = root / "debian-zh.txt"
    zh.write_text(
        "Debian 是一个自由的操作系统。软件包由 APT 管理。\n\n用 apt install 安装软件包。",
        encoding="utf-8",
    )
    paths.append(zh)
    return paths
