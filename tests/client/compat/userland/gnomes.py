# mypy: ignore-errors
# ruff: noqa - the README's code as its users write it
"""The README's ``gnomes.py``, as a user of reqless-py writes it (imported as ``gnomes``).

``GnomesJob`` is the pipeline version (a method per queue); ``AltGnomesJob``
the single-``process`` version, renamed so both live in one module.
"""

import json


class GnomesJob:
    # This would be invoked when a GnomesJob is popped off the "underpants" queue
    @staticmethod
    def underpants(job):
        # 1) Collect Underpants
        ...
        # Complete and advance to the next step, "unknown"
        job.complete("unknown")

    @staticmethod
    def unknown(job):
        # 2) ?
        ...
        # Complete and advance to the next step, "profit"
        job.complete("profit")

    @staticmethod
    def profit(job):
        # 3) Profit
        ...
        # Complete the job
        job.complete()


class AltGnomesJob:
    # This method would be invoked at every stage
    @staticmethod
    def process(job):
        if job.queue == "underpants":
            ...
            job.complete("underpants")
        elif job.queue == "unknown":
            ...
            job.complete("profit")
        elif job.queue == "profit":
            ...
            job.complete()
        else:
            job.fail("unknown-stage", "What what?")


class DataGnomesJob:
    @staticmethod
    def underpants(job):
        # Record how many underpants we collected
        data = json.loads(job.data)
        data["collected"] = 12
        job.data = json.dumps(job.data)
        job.complete("unknown")


class myJob:  # noqa: N801 - the README's name
    @staticmethod
    def process(job):
        job.complete()
