"""Quality of inputs as numbers: QC reports of many tools, and features of raw FASTQ."""
