# Sourced by bin/serve and bin/test: create .venv and (re)install when pyproject.toml changes.
# Usage: source bin/_venv.sh [extra]
_extra="${1:-}"
_python="${PYTHON:-$(command -v python3.11 || command -v python3)}"
if [ ! -x .venv/bin/python ]; then
    echo "Creating .venv with $_python"
    "$_python" -m venv .venv
fi
_stamp=".venv/.installed-${_extra:-base}-$(sha256sum pyproject.toml | cut -c1-16)"
if [ ! -f "$_stamp" ]; then
    echo "Installing Harbor${_extra:+ [$_extra]} into .venv"
    .venv/bin/python -m pip install --quiet --upgrade pip
    .venv/bin/python -m pip install --quiet -e ".${_extra:+[$_extra]}"
    rm -f .venv/.installed-"${_extra:-base}"-*
    touch "$_stamp"
fi
