"""The test side of the DDS tests: node processes under test, and a test rclpy node talking to them.

`NodesUnderTest` starts the nodes of a test as processes (each writing to a log of its own),
then a test node in an rclpy Context of its own on the test's ROS_DOMAIN_ID, whose executor
spins in a thread. A subclass makes its subscriptions, publishers and clients in `connect()`;
its callbacks keep what comes with `_record()`, under `lock`, a Condition that wakes
`wait_for()` on every message. Every wait has a generous wall-clock deadline and returns as
soon as its condition holds; a node process dying fails it at once, with the tails of the logs.
`stop()` SIGINTs the processes (kills one that hangs), takes what is still queued for the test
node and shuts its context down.
"""
from __future__ import annotations

import math
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import rclpy
from rcl_interfaces.srv import SetParameters
from rclpy.executors import SingleThreadedExecutor
from rclpy.parameter import Parameter
from rclpy.publisher import Publisher
from rclpy.subscription import Subscription

STOP_S = 60.0      # wall s for a node to exit after SIGINT before it is killed
LOG_TAIL = 3000    # characters of each log that a failure shows


def ros_argv(executable: Path, parameters: dict[str, object]) -> list[str]:
    """`executable --ros-args -p NAME:=VALUE ...`, as `ros2 run` is given them (booleans as true/false)."""
    argv = [str(executable), "--ros-args"]
    for name, value in parameters.items():
        argv += ["-p", f"{name}:={str(value).lower() if isinstance(value, bool) else value}"]
    return argv


def start_process(argv: list[str], log_path: Path) -> subprocess.Popen:
    """`argv` in a process of its own, its stdout and stderr in `log_path` (which this process only reads)."""
    with open(log_path, "w") as log:
        return subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)


def stop_processes(processes: dict[str, subprocess.Popen], timeout: float = STOP_S) -> dict[str, int]:
    """SIGINT every process still running, then wait for each (killing one that hangs for
    `timeout` s): the exit codes by name."""
    for process in processes.values():
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
    codes = {}
    for name, process in processes.items():
        try:
            codes[name] = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            codes[name] = process.wait()
    return codes


def parameter_request(name: str, value) -> SetParameters.Request:
    """A `~/set_parameters` request for one parameter."""
    return SetParameters.Request(parameters=[Parameter(name, value=value).to_parameter_msg()])


def matched(endpoints: Iterable) -> bool:
    """Whether DDS has matched every endpoint: a subscription with a publisher, a publisher with a
    subscription, a service client with its service."""
    for endpoint in endpoints:
        if isinstance(endpoint, Subscription):
            if not endpoint.get_publisher_count():
                return False
        elif isinstance(endpoint, Publisher):
            if not endpoint.get_subscription_count():
                return False
        elif not endpoint.service_is_ready():
            return False
    return True


class NodesUnderTest:
    """Node processes under test, and a test node listening to them (and talking to them).

    `processes` maps a name to the argv and log file of each node. A subclass sets up what its
    callbacks record before calling this constructor, and overrides `connect()`. If anything
    fails on the way up, whatever was started is stopped again."""

    wait_s = 60.0   # wall s: the longest any one wait may take unless told (it returns as soon as it can)

    def __init__(self, domain: int, node_name: str, processes: dict[str, tuple[list[str], Path]]):
        self.lock = threading.Condition()    # guards what the callbacks record; notified on every record
        self.received = 0                    # how many records the callbacks have made
        self.processes: dict[str, subprocess.Popen] = {}
        self.logs: dict[str, Path] = {}
        self.context = rclpy.Context()
        self.executor: SingleThreadedExecutor | None = None
        self._spinner: threading.Thread | None = None
        try:
            for name, (argv, log_path) in processes.items():
                self.logs[name] = log_path
                self.processes[name] = start_process(argv, log_path)
            rclpy.init(context=self.context, domain_id=domain)
            self.node = rclpy.create_node(node_name, context=self.context)
            self.connect(self.node)
            self.executor = SingleThreadedExecutor(context=self.context)
            self.executor.add_node(self.node)
            self._spinner = threading.Thread(target=self._spin, daemon=True)
            self._spinner.start()
        except BaseException:
            self.stop()
            raise

    def connect(self, node) -> None:
        """Make the test's subscriptions, publishers and service clients on `node` (before it spins)."""

    # -- the spinner thread -------------------------------------------------------------------

    def _spin(self) -> None:
        while self.context.ok():
            try:
                self.executor.spin_once(timeout_sec=0.05)
            except Exception:   # the context was shut down under it
                return

    def _record(self, store: list, item) -> None:
        """Keep `item` in `store` (a callback's record) and wake the waits."""
        with self.lock:
            store.append(item)
            self.received += 1
            self.lock.notify_all()

    # -- what a test asks -----------------------------------------------------------------------

    @property
    def process(self) -> subprocess.Popen:
        """The node process, where there is one."""
        [process] = self.processes.values()
        return process

    def log(self, name: str | None = None) -> str:
        """The log of node `name` (of the one node by default) so far."""
        if name is None:
            [name] = self.logs
        return self.logs[name].read_text()

    def log_tails(self) -> str:
        """The end of every node's log, for a failure's message."""
        return "\n".join(f"--- {name}\n{path.read_text()[-LOG_TAIL:]}" for name, path in self.logs.items())

    def check_alive(self, doing: str) -> None:
        """Fail at once, with the logs, if a node process has exited."""
        for name, process in self.processes.items():
            if process.poll() is not None:
                raise AssertionError(f"{name} exited ({process.returncode}) {doing}:\n{self.log_tails()}")

    def wait_for(self, predicate: Callable, what: str, timeout: float | None = None, every: float | None = None,
                 then: Callable | None = None, exited_ok: bool = False):
        """The first truthy `predicate()`, checked (under the lock that guards what the callbacks
        record) whenever a message arrives; `then()` runs every `every` s meanwhile (a resend).
        A node process exiting fails the wait at once, unless `exited_ok`."""
        timeout = self.wait_s if timeout is None else timeout
        deadline = time.monotonic() + timeout
        next_action = time.monotonic() + every if every else math.inf
        while True:
            with self.lock:
                result = predicate()
                if result:
                    return result
                now = time.monotonic()
                if now >= deadline:
                    break
                if not exited_ok:
                    self.check_alive(f"waiting for {what}")
                if now < next_action:
                    self.lock.wait(timeout=min(0.1, deadline - now, next_action - now))
                    continue
            next_action = time.monotonic() + every
            then()
        raise AssertionError(f"timed out after {timeout} s waiting for {what}:\n{self.log_tails()}")

    def call(self, client, request, timeout: float | None = None):
        """The response of a service call. The call is made again every few seconds until one
        answer comes (a first request can be lost while DDS completes the match), so it must be
        one that may be repeated."""
        self.wait_for(client.service_is_ready, f"the service {client.srv_name}", timeout)
        futures = [client.call_async(request)]

        def answered():
            return next((f.result() for f in futures if f.done() and f.result() is not None), None)

        return self.wait_for(answered, f"a response from {client.srv_name}", timeout, every=5.0,
                             then=lambda: futures.append(client.call_async(request)))

    def stop(self) -> dict[str, int]:
        """SIGINT every node (kill one that hangs); then take what is still queued here, until a
        second brings nothing new; shut the test node's context down. The exit codes by name."""
        codes = stop_processes(self.processes)
        if self._spinner is not None:
            def received():
                with self.lock:
                    return self.received
            deadline, before = time.monotonic() + STOP_S, None
            while received() != before and time.monotonic() < deadline:
                before = received()
                time.sleep(1.0)
        self.context.try_shutdown()
        if self._spinner is not None:
            self._spinner.join(timeout=10)
        return codes
