"""Lost answers: between the terminals and gunicorn sits a small proxy that passes each
request on, reads the server's whole answer, and then, for one request in five, closes
the terminal's connection without passing the answer on. The terminals retry with the
same Idempotency-Key: no sale is stored twice, and each retry gets the first answer's
body, byte for byte.
"""

from __future__ import annotations

import contextlib
import random
import socket
import threading
from collections import defaultdict
from collections.abc import Iterator

import pytest

from tests.faults.started import serving
from tests.faults.stores import Database, assert_each_sale_stored_once, seed
from tests.faults.terminals import NO_ANSWER, Tally, cash_sales, post_sales, scaled, time_for

TERMINALS = 16
SALES = scaled(1_600, multiple=TERMINALS)
LOSS = 0.2
TIME = time_for(int(SALES / (1 - LOSS)))


class LossyProxy:
    """A threaded TCP proxy for one request per connection (the terminals send
    `Connection: close`). It keeps every answer the server gave, per Idempotency-Key."""

    def __init__(self, upstream: int, *, loss: float, seed: int = 8) -> None:
        self.upstream = upstream
        self.loss = loss
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self.answers: dict[str, list[tuple[int, bytes]]] = defaultdict(list)
        self.dropped = 0
        self.passed = 0
        self._listener = socket.create_server(("127.0.0.1", 0), backlog=256)
        self.port = self._listener.getsockname()[1]
        self._closed = threading.Event()

    @contextlib.contextmanager
    def running(self) -> Iterator[LossyProxy]:
        acceptor = threading.Thread(target=self._accept, daemon=True, name="proxy")
        acceptor.start()
        try:
            yield self
        finally:
            self._closed.set()
            self._listener.close()
            acceptor.join(10)

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._relay, args=(client,), daemon=True).start()

    def _relay(self, client: socket.socket) -> None:
        with client:
            client.settimeout(30)
            try:
                request = _read_request(client)
                with socket.create_connection(("127.0.0.1", self.upstream), timeout=30) as server:
                    server.sendall(request)
                    answer = _read_to_end(server)
            except OSError:
                return  # the terminal sees no answer and retries
            status, body = _parse_answer(answer)
            with self._lock:
                self.answers[_header(request, b"idempotency-key")].append((status, body))
                drop = self._rng.random() < self.loss
                if drop:
                    self.dropped += 1
                else:
                    self.passed += 1
            if not drop:
                client.sendall(answer)
            # Dropped: the connection just closes, as a lost network or proxy would leave it.


def _read_request(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("the terminal closed before its request was complete")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(_header(head, b"content-length") or 0)
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("the terminal closed in the middle of its body")
        body += chunk
    return head + b"\r\n\r\n" + body


def _read_to_end(sock: socket.socket) -> bytes:
    parts = []
    while chunk := sock.recv(65536):
        parts.append(chunk)
    return b"".join(parts)


def _header(head: bytes, name: bytes) -> str:
    for line in head.split(b"\r\n\r\n", 1)[0].split(b"\r\n")[1:]:
        field, _, value = line.partition(b":")
        if field.strip().lower() == name:
            return value.strip().decode()
    return ""


def _parse_answer(answer: bytes) -> tuple[int, bytes]:
    head, _, body = answer.partition(b"\r\n\r\n")
    assert "chunked" not in _header(head, b"transfer-encoding").lower()  # Content-Length
    return int(head.split(b" ", 2)[1]), body


@pytest.mark.faults(timeout=TIME + 90)
def test_lost_answers_retried_with_their_keys_store_each_sale_once_and_replay_the_first(
    database: Database, report
):
    tills = seed(database, locations=2, registers=TERMINALS // 2, opening_float="100.00")
    rng = random.Random(5)
    lanes = [
        (till.tokens[0], cash_sales(till.register, SALES // TERMINALS, "lost", rng))
        for till in tills
    ]
    sales = [sale for _, mine in lanes for sale in mine]
    tally = Tally("lost answers")

    with serving(database.url, workers=5, threads=4) as server:
        proxy = LossyProxy(server.port, loss=LOSS)
        with proxy.running():
            tally.restart_clock()
            post_sales(proxy.port, lanes, tally, timeout=TIME, keep_alive=False)
            tally.stop_clock()
        error_log = server.error_log()

    retried = [sale for sale in sales if len(sale.attempts) > 1]
    report(
        tally.figures(
            sales=f"{len(sales):,} from {TERMINALS} terminals",
            answers_dropped_by_the_proxy=f"{proxy.dropped:,} of {proxy.dropped + proxy.passed:,}",
            sales_retried=len(retried),
            retries_replayed=sum(sale.final.replayed for sale in retried),
        )
    )
    # Every request reached the server and was answered there; only the way back failed.
    assert set(tally.statuses) <= {"201", NO_ANSWER}, tally.figures()
    assert tally.count(NO_ANSWER) == proxy.dropped > 0
    assert_each_sale_stored_once(database, sales)
    for sale in sales:
        given = proxy.answers[sale.key]
        first_status, first_body = given[0]
        assert first_status == 201
        # The server answered every attempt of the sale with the first answer...
        assert [answer for answer in given] == [(201, first_body)] * len(sale.attempts)
        # ...and the terminal finally got it: the first answer once, replays after that.
        assert sale.final.body == first_body
        assert sale.final.replayed == (len(sale.attempts) > 1)
    assert "Traceback" not in error_log
