import types

import omics_waiter
import omics_waiter.testing


def test_all_lists_exactly_the_public_names_that_exist() -> None:
    public = {n for n in dir(omics_waiter) if not n.startswith("_")}
    # Subpackages and modules (testing, airflow, events) are attributes once imported.
    modules = {n for n in public if isinstance(getattr(omics_waiter, n), types.ModuleType)}
    assert set(omics_waiter.__all__) == public - modules
    assert omics_waiter.__all__ == sorted(omics_waiter.__all__)


def test_every_public_name_is_documented() -> None:
    for name in omics_waiter.__all__:
        obj = getattr(omics_waiter, name)
        if isinstance(obj, type):
            assert obj.__doc__, name


def test_errors_share_one_root_and_subclass_builtins_where_it_helps() -> None:
    assert issubclass(omics_waiter.InvalidInputError, ValueError)
    assert issubclass(omics_waiter.WaitTimeoutError, TimeoutError)
    assert issubclass(omics_waiter.JobPartiallyFailedError, omics_waiter.JobFailedError)
    for name in omics_waiter.__all__:
        obj = getattr(omics_waiter, name)
        if isinstance(obj, type) and issubclass(obj, Exception):
            assert issubclass(obj, omics_waiter.OmicsWaiterError), name


def test_the_version_is_the_installed_distributions() -> None:
    import importlib.metadata

    assert omics_waiter.__version__ == importlib.metadata.version("omics-waiter")
