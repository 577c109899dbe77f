"""The Python task's side in a worker process (task.c's pyx_task calls
run). The worker is a fork of the interpreter as it was at `import mpool`:
modules imported after that, and the main script's functions defined after
it, are found here the way multiprocessing's spawn finds them: a module
still being imported then is executed again, and the main script runs as
__mp_main__ (its `if __name__ == "__main__":` block does not)."""

import importlib
import io
import pickle
import runpy
import sys
import traceback

_main_fixed = False


def _fix_main():
    """Runs the parent's main script (or module) as __mp_main__ and makes
    it __main__ here, once."""
    global _main_fixed
    if _main_fixed:
        return
    _main_fixed = True
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    path = getattr(main, "__file__", None)
    if spec is not None and spec.name not in ("__main__", None):
        ns = runpy.run_module(spec.name, run_name="__mp_main__",
                              alter_sys=False)
    elif path:
        ns = runpy.run_path(path, run_name="__mp_main__")
    else:
        return  # interactive: what it had at import is all there is
    mod = type(sys)("__mp_main__")
    mod.__dict__.update(ns)
    sys.modules["__mp_main__"] = sys.modules["__main__"] = mod


def _reexec(mod):
    """Runs a module again that was half-imported when the forkserver
    started (its spec still says _initializing)."""
    spec = getattr(mod, "__spec__", None)
    if spec is None or not getattr(spec, "_initializing", False) \
            or spec.loader is None:
        return False
    spec._initializing = False
    spec.loader.exec_module(mod)
    return True


class _Unpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if module == "__main__":
            try:
                return super().find_class(module, name)
            except AttributeError:
                _fix_main()
                return super().find_class(module, name)
        try:
            return super().find_class(module, name)
        except AttributeError:
            mod = importlib.import_module(module)
            if not _reexec(mod):
                raise
            return super().find_class(module, name)


def run(payload):
    """Calls the pickled (function, args, kwargs). Returns the pickled
    answer: (True, value) or (False, exception, traceback text)."""
    try:
        fn, args, kwargs = _Unpickler(io.BytesIO(payload)).load()
        answer = (True, fn(*args, **kwargs))
    except BaseException as e:  # the task's, handed to its caller
        answer = (False, e, traceback.format_exc())
    finally:
        for f in (sys.stdout, sys.stderr):
            try:
                f.flush()
            except Exception:
                pass
    try:
        return pickle.dumps(answer, pickle.HIGHEST_PROTOCOL)
    except Exception as e:  # the value or the exception does not pickle
        return pickle.dumps((False, RuntimeError(
            f"the task's answer cannot be pickled: {e!r}"),
            repr(answer[1])[:1000]), pickle.HIGHEST_PROTOCOL)
