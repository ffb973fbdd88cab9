-- The in-memory cache of lab rows and access checks (src/store/cache.rs,
-- issue 15): every change to a lab, a user or a refresh session notifies
-- `dxdesk_cache` with its key, whoever writes it (an instance, the CLI,
-- psql), so that every instance's LISTEN connection drops what it names. The
-- notification is delivered when the writing transaction commits, never for
-- a rollback. TRUNCATE says '*' (everything).
CREATE FUNCTION dxdesk_cache_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        PERFORM pg_notify('dxdesk_cache', '*');
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('dxdesk_cache', TG_ARGV[0] || ':' || (to_jsonb(OLD) ->> TG_ARGV[1]));
    ELSE
        PERFORM pg_notify('dxdesk_cache', TG_ARGV[0] || ':' || (to_jsonb(NEW) ->> TG_ARGV[1]));
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER labs_cache AFTER INSERT OR UPDATE OR DELETE ON labs
    FOR EACH ROW EXECUTE FUNCTION dxdesk_cache_notify('lab', 'id');
CREATE TRIGGER labs_cache_truncate AFTER TRUNCATE ON labs
    FOR EACH STATEMENT EXECUTE FUNCTION dxdesk_cache_notify();
CREATE TRIGGER users_cache AFTER INSERT OR UPDATE OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION dxdesk_cache_notify('user', 'id');
CREATE TRIGGER users_cache_truncate AFTER TRUNCATE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION dxdesk_cache_notify();
CREATE TRIGGER refresh_sessions_cache AFTER INSERT OR UPDATE OR DELETE ON refresh_sessions
    FOR EACH ROW EXECUTE FUNCTION dxdesk_cache_notify('user', 'user_id');
CREATE TRIGGER refresh_sessions_cache_truncate AFTER TRUNCATE ON refresh_sessions
    FOR EACH STATEMENT EXECUTE FUNCTION dxdesk_cache_notify();
