"""Paper at the mailroom's edge: shipping labels and PIN mailers, rendered as PDFs in memory
and printed through CUPS (:mod:`kiosk.paper.cups`); :mod:`kiosk.paper.desk` prints them as
keys finish and keeps the labels still to print."""
