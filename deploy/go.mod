module github.com/newsflow/newsflow/deploy

go 1.26
