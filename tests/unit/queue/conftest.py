from tests.support.redisserver import redis_server  # noqa: F401 - the fixture
