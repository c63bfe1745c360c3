"""A database owner's traps for a superuser that reads its database: functions and an operator
in `public` that fit calls upkeep's review and compliance queries make (`format(text, name,
name)`, `pg_size_pretty(bigint)`, `lower(text)`, `=` and `<>` on text, `NOT LIKE` on a
name) and, run with a superuser's
rights, make the owner a superuser, write to a marker sequence, run a program on the server
that leaves a marker file, and turn the session's
`default_transaction_read_only` off so that the next statement could write. The owner is a role
of its own (not the shared test role), so a trap that springs changes no other test."""

from __future__ import annotations

import itertools
import os
from pathlib import Path

from helpers.pg_cluster import PostgresServer

_owners = itertools.count(1)

# As the owner. The database's search path puts public first, as its owner may: then even a
# function with the built-in one's exact argument types (pg_size_pretty(bigint)) is chosen.
TRAPS = """
CREATE SEQUENCE public.trap_sprung;
CREATE FUNCTION public.trap() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  SET default_transaction_read_only = off;
  BEGIN
    PERFORM pg_catalog.nextval('public.trap_sprung');
  EXCEPTION WHEN OTHERS THEN NULL;
  END;
  BEGIN
    EXECUTE 'ALTER ROLE {owner} SUPERUSER';
  EXCEPTION WHEN OTHERS THEN NULL;
  END;
  BEGIN  -- a superuser may run a program on the server even in a read-only transaction
    EXECUTE 'COPY (SELECT 1) TO PROGRAM ' || pg_catalog.quote_literal('touch {marker}');
  EXCEPTION WHEN OTHERS THEN NULL;
  END;
END $$;
CREATE FUNCTION public.format(fmt text, a name, b name) RETURNS text LANGUAGE plpgsql AS $$
BEGIN PERFORM public.trap(); RETURN pg_catalog.format(fmt, a, b); END $$;
CREATE FUNCTION public.pg_size_pretty(size bigint) RETURNS text LANGUAGE plpgsql AS $$
BEGIN PERFORM public.trap(); RETURN pg_catalog.pg_size_pretty(size); END $$;
CREATE FUNCTION public.lower(value text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN PERFORM public.trap(); RETURN pg_catalog.lower(value); END $$;
CREATE FUNCTION public.trap_eq(a text, b text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN PERFORM public.trap(); RETURN pg_catalog.texteq(a, b); END $$;
CREATE OPERATOR public.= (LEFTARG = text, RIGHTARG = text, FUNCTION = public.trap_eq);
CREATE FUNCTION public.trap_ne(a text, b text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN PERFORM public.trap(); RETURN pg_catalog.textne(a, b); END $$;
CREATE OPERATOR public.<> (LEFTARG = text, RIGHTARG = text, FUNCTION = public.trap_ne);
CREATE FUNCTION public.trap_not_like(a name, b text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN PERFORM public.trap(); RETURN pg_catalog.namenlike(a, b); END $$;
CREATE OPERATOR public.!~~ (LEFTARG = name, RIGHTARG = text, FUNCTION = public.trap_not_like);
ALTER DATABASE {dbname} SET search_path = public, pg_catalog;
"""
_CATALOG = "SET search_path = pg_catalog;\n"
# As the owner, after TRAPS: a table whose column has the owner's own type, which the owner may
# give a cast to text (no search path involved: `value::text` finds it in pg_cast).
CAST_TRAP = """
CREATE TYPE public.mood AS ENUM ('calm', 'cross');
CREATE FUNCTION public.mood_text(value public.mood) RETURNS text LANGUAGE plpgsql AS $$
BEGIN PERFORM public.trap(); RETURN pg_catalog.enum_out(value)::pg_catalog.text; END $$;
CREATE CAST (public.mood AS text) WITH FUNCTION public.mood_text(public.mood);
CREATE TABLE public.moods (id integer PRIMARY KEY, mood public.mood);
INSERT INTO public.moods VALUES (1, 'calm'), (2, 'cross');
"""


# As the owner, after CAST_TRAP: a cast to json, which to_json, json_agg and json_build_array
# call for a value of the type (reading a row back, a sample key), and a table the `moods` rows
# refer to by their mood, where 'cross' names nothing.
JSON_CAST_TRAP = """
CREATE FUNCTION public.mood_json(value public.mood) RETURNS json LANGUAGE plpgsql AS $$
BEGIN PERFORM public.trap(); RETURN pg_catalog.to_json(pg_catalog.enum_out(value)::text); END $$;
CREATE CAST (public.mood AS json) WITH FUNCTION public.mood_json(public.mood);
CREATE TABLE public.mood_names (mood public.mood PRIMARY KEY);
INSERT INTO public.mood_names VALUES ('calm');
"""


def plant_owner_traps(server: PostgresServer, dbname: str) -> str:
    """Make a new role (no superuser) the owner of `dbname` and plant its traps as that role;
    the role's name."""
    owner = f"trap_owner_{os.getpid()}_{next(_owners)}"
    server.psql(
        f"CREATE ROLE {owner} NOLOGIN NOSUPERUSER;\nALTER DATABASE {dbname} OWNER TO {owner};",
        dbname=dbname,
    )
    traps = TRAPS.format(owner=owner, dbname=dbname, marker=_marker_file(server, owner))
    server.psql(f"SET ROLE {owner};\n{traps}", dbname=dbname)
    return owner


def _marker_file(server: PostgresServer, owner: str) -> Path:
    return server.root / f"sprung-{owner}"


def is_superuser(server: PostgresServer, role: str) -> bool:
    found = server.psql(f"{_CATALOG}SELECT rolsuper FROM pg_roles WHERE rolname = '{role}'")
    return found == "t"


def sprung(server: PostgresServer, dbname: str, owner: str) -> set[str]:
    """What the traps did: `superuser` (the owner is one), `write` (the marker sequence moved),
    `program` (the marker file is there)."""
    called = server.psql(f"{_CATALOG}SELECT is_called FROM public.trap_sprung", dbname=dbname)
    done = {
        "superuser": is_superuser(server, owner),
        "write": called == "t",
        "program": _marker_file(server, owner).exists(),
    }
    return {what for what, happened in done.items() if happened}


def spring_by_hand(
    server: PostgresServer,
    dbname: str,
    owner: str,
    sql: str = "SELECT format('%I.%I', 'a'::name, 'b'::name)",
) -> set[str]:
    """What the traps do when a superuser runs `sql` (by default, in a session that searches
    public) (the owner is made a plain role again afterwards): all of it, when they are real."""
    server.psql(sql, dbname=dbname)
    done = sprung(server, dbname, owner)
    server.psql(f"ALTER ROLE {owner} NOSUPERUSER", dbname=dbname)
    return done
