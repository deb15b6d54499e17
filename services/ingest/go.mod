module github.com/newsflow/newsflow/services/ingest

go 1.26
