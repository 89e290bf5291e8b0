"""stop_requests records SIGTERM/SIGHUP instead of dying, and gives the previous handlers back."""

import os
import signal

from derain_cli.train.stopping import TrainingStopped, stop_requests


def test_a_signal_is_recorded_and_the_previous_handler_comes_back(tmp_path):
    def earlier(signum, frame):
        raise AssertionError("the earlier handler ran inside the context")

    signal.signal(signal.SIGHUP, earlier)
    try:
        with stop_requests() as request:
            assert request.signum is None
            os.kill(os.getpid(), signal.SIGHUP)
            assert request.signum == signal.SIGHUP  # Python runs the handler before the next bytecode
        assert signal.getsignal(signal.SIGHUP) is earlier
        with stop_requests(enabled=False) as request:  # a torchrun process: nothing caught
            assert signal.getsignal(signal.SIGHUP) is earlier and request.signum is None
    finally:
        signal.signal(signal.SIGHUP, signal.SIG_DFL)
    stopped = TrainingStopped(tmp_path / "run", signal.SIGTERM, 12)
    assert stopped.exit_code == 143 and str(stopped) == f"{tmp_path / 'run'}: stopped by SIGTERM after step 12, saved; `derain train --resume -o {tmp_path / 'run'}` continues"
