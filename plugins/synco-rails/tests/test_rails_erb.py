"""The ERB of Rails' YAML files without Ruby: the forms database.yml and storage.yml use, Ruby's semantics
for them, and a one-line error naming the line for anything else."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from synco_rails.erb import Context, render

from synco_core import ConfigError

CONTEXT = Context(environ={"DB_HOST": "db.internal", "EMPTY": "", "THREADS": "16", "QUOTE": 'a"b'},
                  root=Path("/srv/shop"), rails_env="production")


def r(text: str, context: Context = CONTEXT) -> str:
    return render(text, context, "config/database.yml")


@pytest.mark.parametrize("template, expected", [
    ('<%= ENV["DB_HOST"] %>', "db.internal"),
    ("<%= ENV['DB_HOST'] %>", "db.internal"),
    ('<%= ENV["UNSET"] %>', ""),
    ('<%= ENV.fetch("DB_HOST") %>', "db.internal"),
    ('<%= ENV.fetch("UNSET") { "fallback" } %>', "fallback"),
    ('<%= ENV.fetch("UNSET", "fallback") %>', "fallback"),
    ('<%= ENV.fetch("RAILS_MAX_THREADS") { 5 } %>', "5"),
    ('<%= ENV.fetch("THREADS") { 5 } %>', "16"),
    ('<%= ENV.fetch("UNSET", nil) %>', ""),
    ('<%= ENV["UNSET"] || "or-default" %>', "or-default"),
    ('<%= ENV["EMPTY"] || "not used" %>', ""),
    ('<%= ENV["EMPTY"].presence || "presence" %>', "presence"),
    ('<%= ENV.fetch("THREADS").to_i %>', "16"),
    ('<%= Integer(ENV.fetch("THREADS", 3)) %>', "16"),
    ("<%= Rails.root %>", "/srv/shop"),
    ('<%= Rails.root.join("storage") %>', "/srv/shop/storage"),
    ('<%= Rails.root.join("tmp", "storage").to_s %>', "/srv/shop/tmp/storage"),
    ("shop-<%= Rails.env %>", "shop-production"),
    ('<%= "db-#{ENV["DB_HOST"]}" %>', "db-db.internal"),
    ('<%= ENV.fetch("UNSET") { ENV["DB_HOST"] } %>', "db.internal"),
    ("<%# a comment %>kept", "kept"),
    ("100<%% literal", "100<% literal"),
    ("a: <%= 5 -%>\nb: 1", "a: 5b: 1"),
    ("a:\n  <%-# indented comment -%>\nb: 1", "a:\nb: 1"),
])
def test_supported_forms(template: str, expected: str) -> None:
    assert r(template) == expected


def test_unsupported_erb_names_the_line() -> None:
    text = "default: &default\n  adapter: postgresql\n<% if ENV['X'] %>\n  host: x\n<% end %>\n"
    with pytest.raises(ConfigError) as error:
        r(text)
    message = str(error.value)
    assert message.startswith("config/database.yml line 3: unsupported ERB <% if ENV['X'] %>")
    assert "\n" not in message


@pytest.mark.parametrize("expression", ["Rails.application.credentials.dig(:db, :password)", "`cat /etc/passwd`",
                                        'ENV.delete("X")', "system('rm -rf /')", 'File.read("x")', "ENV", "1 + 2"])
def test_anything_else_is_refused(expression: str) -> None:
    with pytest.raises(ConfigError, match=r"^config/database.yml line 2: unsupported ERB"):
        r(f"a: 1\nb: <%= {expression} %>\n")


def test_fetch_without_default_of_an_unset_variable() -> None:
    with pytest.raises(ConfigError) as error:
        r('\npassword: <%= ENV.fetch("SHOP_DATABASE_PASSWORD") %>\n')
    assert str(error.value) == ('config/database.yml line 2: <%= ENV.fetch("SHOP_DATABASE_PASSWORD") %> needs the '
                                "environment variable SHOP_DATABASE_PASSWORD (ENV.fetch without a default)")


def test_values_are_never_quoted_in_errors() -> None:
    context = Context(environ={"SECRET": "s3cr3t-value"}, root=Path("/x"), rails_env="production")
    with pytest.raises(ConfigError) as error:
        render('password: <%= ENV["SECRET"] %>\nother: <%= ENV["SECRET"].reverse %>\n', context, "db.yml")
    assert "s3cr3t-value" not in str(error.value)


def _ruby_double_quoted(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("#{", "\\#{").replace("\n", "\\n")
    return f'"{escaped}"'


@given(st.text(st.characters(codec="utf-8", exclude_categories=("Cs",), exclude_characters="\x00\r\t"),
               max_size=30))
def test_string_literals_round_trip(text: str) -> None:
    """Whatever a string literal holds (quotes, backslashes, ``#{`` escaped) renders as Ruby would."""
    # ERB ends a tag at the first "%>", inside a string literal too (Ruby's as well): no literal holds one.
    assume("%>" not in text)
    assert r(f"<%= {_ruby_double_quoted(text)} %>") == text
    single = "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
    assert r(f"<%= {single} %>") == text


@given(st.dictionaries(st.sampled_from(["A", "B", "C"]), st.text(max_size=5), max_size=3),
       st.sampled_from(["A", "B", "C"]), st.text(st.characters(codec="ascii", categories=("L", "N")), max_size=5))
def test_env_semantics(environ: dict[str, str], name: str, default: str) -> None:
    """``ENV[...]`` is the value or nothing; ``fetch`` with a default is the value or the default; ``||``
    replaces only an unset value (an empty string is true in Ruby)."""
    context = Context(environ=environ, root=Path("/r"), rails_env="production")
    assert r(f'<%= ENV["{name}"] %>', context) == environ.get(name, "")
    assert r(f'<%= ENV.fetch("{name}", "{default}") %>', context) == environ.get(name, default)
    assert r(f'<%= ENV.fetch("{name}") {{ "{default}" }} %>', context) == environ.get(name, default)
    assert r(f'<%= ENV["{name}"] || "{default}" %>', context) == environ.get(name, default)


#: Ruby expressions synco does not evaluate, as ``rails new`` and applications put them in comments.
RUBY_ONLY = ("Rails.application.credentials.dig(:aws, :access_key_id)", "Rails.application.credentials.db",
             "SecretStore.fetch('x')", "[1, 2].sum")


@pytest.mark.parametrize("expression", RUBY_ONLY)
@pytest.mark.parametrize("prefix", ["#", "# ", "  #   access_key_id: ", "\t# url: x-"])
def test_ruby_only_output_on_a_comment_line_renders_as_nothing(expression: str, prefix: str) -> None:
    """Ruby would print into the comment: the YAML is the same whatever it printed."""
    text = f"local:\n  service: Disk\n{prefix}<%= {expression} %> tail\n  root: <%= Rails.root.join('s') %>\n"
    assert r(text) == f"local:\n  service: Disk\n{prefix} tail\n  root: /srv/shop/s\n"


@pytest.mark.parametrize("expression", RUBY_ONLY)
@pytest.mark.parametrize("line", ["  key: {tag}", "  key: '#' {tag}", "key: \"a # b\" {tag}", "{tag} # comment after"])
def test_ruby_only_output_outside_a_comment_line_is_still_refused(expression: str, line: str) -> None:
    text = "production:\n" + line.format(tag=f"<%= {expression} %>") + "\n"
    with pytest.raises(ConfigError, match=r"^config/database.yml line 2: unsupported ERB"):
        r(text)


@pytest.mark.parametrize("tag", ["<% if Rails.env.production? %>", '<%= ENV.fetch("UNSET") %>'])
def test_code_tags_and_missing_variables_on_comment_lines_still_stop(tag: str) -> None:
    """Ruby runs a code tag and raises for ENV.fetch of an unset variable, comment or not."""
    with pytest.raises(ConfigError, match=r"^config/database.yml line 2: "):
        r(f"production:\n# {tag}\n")
