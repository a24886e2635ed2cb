"""moto_server answering one request at a time.

DynamoDB applies a transaction atomically. moto's threaded server does not:
it checks the conditions, writes, and on a failed condition restores a copy
of the whole table taken before, so two concurrent transactions can both
pass their conditions, or one can undo the other. The store tests race
transactions on purpose; one thread makes every request atomic, as on AWS.

Usage: python moto_serial.py [moto_server options]
"""

import sys

import moto.server
from werkzeug import serving


def run_serially(*args, **kwargs):
    kwargs["threaded"] = False
    return serving.run_simple(*args, **kwargs)


moto.server.run_simple = run_serially
moto.server.main(sys.argv[1:])
