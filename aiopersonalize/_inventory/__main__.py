"""``python -m aiopersonalize._inventory``: the inventory's writer process (``_writer``)."""

from ._writer import main

main()
