"""Apache Beam's DaskRunner (Beam 2.77), with the three fixes the TFDS build needs.

    tfds build datasets/ravdess ... --beam_pipeline_options="runner=emorec.beam.DaskRunner,dask_client_address=tcp://HOST:8786"

- Beam's runner collects a bundle's outputs before calling the DoFn's `finish_bundle`, so
  what a DoFn emits there is lost: `combiners.Top.Largest`, with which TFDS's Beam writer
  finds the largest example key to assign shards, returns an empty list, and the build stops
  with an IndexError. Here the outputs are collected after it.
- Beam's runner computes the last transform's Dask bag alone, taking it to depend on every
  other; a pipeline that branches (TFDS's writer stores each split's info on a branch of its
  own) loses the other branches' work, and the build stops with split_info.json missing.
  Here every leaf of the pipeline is computed.
- Beam's runner computes a side input's upstream again inside every task that reads it; here
  what several transforms or side inputs read is held in the cluster's memory and computed
  once.
"""

from __future__ import annotations

import collections

from apache_beam.runners.common import DoFnInvoker
from apache_beam.runners.dask import dask_runner, transform_evaluator

from emorec.errors import UserError


def apply_dofn_to_bundle(items, do_fn_invoker_args, do_fn_invoker_kwargs, tagged_receivers):
    """Beam's function of the same name, with the outputs collected after `finish_bundle`."""
    invoker = DoFnInvoker.create_invoker(*do_fn_invoker_args, **do_fn_invoker_kwargs)
    invoker.invoke_setup()
    invoker.invoke_start_bundle()
    for item in items:
        invoker.invoke_process(item)
    invoker.invoke_finish_bundle()
    results = [v.value for v in tagged_receivers.values]
    invoker.invoke_teardown()
    return results


def _client(distributed, options: dict):
    """A client of the scheduler the options name; a UserError naming its address where it does not answer."""
    try:
        return distributed.Client(**options)
    except OSError as e:  # distributed's "Timed out trying to connect to ...", a refused connection
        raise UserError(
            f"the Dask scheduler at {options.get('address') or options.get('scheduler_file')} does not "
            f"answer ({e}): start it (`dask scheduler`), or give its address as "
            "dask_client_address=tcp://HOST:8786"
        ) from None


class DaskRunner(dask_runner.DaskRunner):
    """Beam's DaskRunner, its bundles run by `apply_dofn_to_bundle` above (which the Dask
    workers import from here: emorec must be installed where they run), every leaf computed."""

    def run_pipeline(self, pipeline, options):
        import dask
        import dask.distributed

        transform_evaluator.apply_dofn_to_bundle = apply_dofn_to_bundle
        dask_options = options.view_as(dask_runner.DaskOptions).get_all_options(drop_default=True, current_only=True)
        bag_kwargs = dask_runner.DaskOptions._extract_bag_kwargs(dask_options)
        client = _client(dask.distributed, dask_options)
        pipeline.replace_all(dask_runner.dask_overrides())
        visitor = self.to_dask_bag_visitor(bag_kwargs)
        pipeline.visit(visitor)
        uses = collections.Counter(value.producer for node in visitor.bags for value in node.inputs)
        sides = {side.pvalue.producer for node in visitor.bags for side in node.side_inputs}
        leaves = [bag for node, bag in visitor.bags.items() if not uses[node] and node not in sides]
        # Held in the cluster's memory first, and so computed once: what several transforms read,
        # and what side inputs read (Beam's runner computes a side input inside the tasks that
        # read it, which recomputed everything upstream once per use: each clip decoded four
        # times). The scheduler reuses a key it holds.
        held = client.persist([bag for node, bag in visitor.bags.items() if uses[node] > 1 or node in sides])
        result = dask_runner.DaskRunnerResult(client, client.compute(dask.optimize(*leaves)))
        result.held = held  # until the result is dropped
        return result
