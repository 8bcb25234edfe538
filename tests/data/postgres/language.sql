-- A procedural language of the database's own, a function in it, and a transform.
CREATE LANGUAGE plsame HANDLER plpgsql_call_handler INLINE plpgsql_inline_handler VALIDATOR plpgsql_validator;
CREATE FUNCTION public.same_answer() RETURNS integer LANGUAGE plsame AS $$ BEGIN RETURN 42; END $$;
COMMENT ON LANGUAGE plsame IS 'plpgsql under another name';
CREATE FUNCTION public.celsius_from_sql(internal) RETURNS internal LANGUAGE internal IMMUTABLE STRICT AS 'int4recv';
CREATE FUNCTION public.celsius_to_sql(internal) RETURNS public.celsius LANGUAGE internal IMMUTABLE STRICT AS 'int4recv';
CREATE TRANSFORM FOR public.celsius LANGUAGE plsame (FROM SQL WITH FUNCTION public.celsius_from_sql(internal),
    TO SQL WITH FUNCTION public.celsius_to_sql(internal));
COMMENT ON TRANSFORM FOR public.celsius LANGUAGE plsame IS 'never called';

