module github.com/newsflow/newsflow/pkg

go 1.26
