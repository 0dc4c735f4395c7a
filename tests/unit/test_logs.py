import io
import logging

from bot.config import Secret
from bot.logs import setup_logging

TOKEN = "123456789:AAHxk3Jd9-abcdefghijklmnopqrstuvwxyz_0"


def test_token_is_redacted_from_messages_args_and_tracebacks() -> None:
    stream = io.StringIO()
    setup_logging(Secret(TOKEN), stream=stream)
    try:
        log = logging.getLogger("some.library")
        log.warning("POST https://api.telegram.org/bot%s/getUpdates", TOKEN)
        log.warning(f"inline https://x/bot{TOKEN}/m")
        try:
            raise RuntimeError(f"failed https://x/bot{TOKEN}/sendMessage")
        except RuntimeError:
            log.exception("boom")
        logging.getLogger("httpx").info("HTTP Request: POST https://x/bot%s", TOKEN)
    finally:
        logging.getLogger().handlers.clear()
    output = stream.getvalue()
    assert TOKEN not in output
    assert output.count("[token]") == 3
    assert "RuntimeError" in output
