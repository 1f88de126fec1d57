module spawnd.example/spawnd

go 1.19
